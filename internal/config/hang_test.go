package config

import (
	"os"
	"testing"
)

func TestHang(t *testing.T) {
	data, _ := os.ReadFile("/tmp/fuzzhang")
	for _, decode := range []func(*decoder){
		func(d *decoder) {
			var fs fileSchema
			d.decodeBytes(data, reflectOf(&fs))
			d.validateFile(&fs)
		},
		func(d *decoder) { d.decodeGovernance(data) },
	} {
		d := newDecoder("f.yaml")
		decode(d)
		t.Log(d.err())
	}
	d := newDecoder("f.yaml")
	doc := d.parseDocument(data)
	t.Log(doc, d.err())
}
