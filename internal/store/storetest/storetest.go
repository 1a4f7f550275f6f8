// Package storetest starts the real databases the store's tests run
// against: a SQLite file in a temp dir, and a throwaway PostgreSQL server
// from the installed Debian binaries (initdb, pg_ctl) on a free port.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// Postgres is one throwaway server; every test gets its own database.
type Postgres struct {
	dir, bin, port string
	runAs          string // unprivileged user to run the server as when we are root
	dbs            atomic.Int64
}

// FindPostgres gives the directory of the installed PostgreSQL binaries,
// or "" when there are none.
func FindPostgres() string {
	if d := os.Getenv("ATTEST_PG_BIN"); d != "" {
		return d
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// StartPostgres initialises and starts a server under a new temp dir.
// initdb refuses to run as root, so as root the server runs as the
// "postgres" user (the Debian package creates it) on a dir it owns.
// fsync stays on: the crash tests rely on acknowledged commits.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin := FindPostgres()
	if bin == "" {
		return nil, fmt.Errorf("no PostgreSQL binaries (install the Debian package postgresql)")
	}
	dir, err := os.MkdirTemp("", "attest-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p.runAs = "postgres"
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.port = port
	data := filepath.Join(dir, "data")
	if out, err := p.run(ctx, "initdb", "-D", data, "-U", "attest", "--auth=trust", "-E", "UTF8", "--no-locale"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// pg_ctl -w waits until the server accepts connections.
	if out, err := p.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o",
		"-p "+port+" -k "+dir+" -c listen_addresses=127.0.0.1 -c max_connections=200", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return p, nil
}

func (p *Postgres) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	if p.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", filepath.Join(p.bin, name)}, args...)...)
	}
	cmd.Dir = p.dir
	return cmd.CombinedOutput()
}

// Stop stops the server and removes its files.
func (p *Postgres) Stop() {
	_, _ = p.run(context.Background(), "pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop")
	os.RemoveAll(p.dir)
}

// NewDatabase creates an empty database and gives its URL.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", p.dbs.Add(1))
	admin, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return p.url(name)
}

func (p *Postgres) url(db string) string {
	return "postgres://attest@127.0.0.1:" + p.port + "/" + db + "?sslmode=disable"
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// Backend is one database a test runs against.
type Backend struct {
	Name string
	// NewURL gives the URL of a fresh, empty store.
	NewURL func(t testing.TB) string
}

// Backends lists SQLite and, when pg is not nil, PostgreSQL. skipReason is
// why pg is nil; tests of the PostgreSQL backend skip with it.
func Backends(pg *Postgres, skipReason string) []Backend {
	bs := []Backend{{Name: "sqlite", NewURL: func(t testing.TB) string {
		return "sqlite://" + filepath.Join(t.TempDir(), "attest.db")
	}}}
	bs = append(bs, Backend{Name: "postgres", NewURL: func(t testing.TB) string {
		if pg == nil {
			t.Skip("PostgreSQL tests skipped: " + skipReason)
		}
		return pg.NewDatabase(t)
	}})
	return bs
}

// Main starts PostgreSQL for a package's tests, runs them and stops it.
// A start failure is fatal unless the binaries are absent: CI installs
// them, so a broken installation must not turn into silent skips.
func Main(m interface{ Run() int }, pg **Postgres, skipReason *string) int {
	if FindPostgres() == "" {
		*skipReason = "no PostgreSQL binaries found (apt-get install postgresql, or set ATTEST_PG_BIN)"
	} else if os.Getenv("ATTEST_STORE_CHILD") == "" {
		p, err := StartPostgres(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "storetest: start PostgreSQL:", err)
			return 1
		}
		*pg = p
		defer p.Stop()
	}
	return m.Run()
}

// Raw opens the store's database directly, bypassing attest, to tamper
// with it.
func Raw(t testing.TB, storeURL string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if strings.HasPrefix(storeURL, "postgres") {
		db, err = sql.Open("pgx", storeURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+strings.TrimPrefix(storeURL, "sqlite://")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
