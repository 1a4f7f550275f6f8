package server

import "runtime"

// runtimeGosched yields between polls of an observable condition.
func runtimeGosched() { runtime.Gosched() }
