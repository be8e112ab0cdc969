package tlsconf

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flashstor/flashstor/internal/testpki"
)

// newTestCA makes the CA that signs every certificate of a test.
func newTestCA(t *testing.T) *testpki.CA { return testpki.NewCA(t, "flashstor test CA") }

// writePair writes l into dir as public.crt and private.key.
func writePair(t *testing.T, dir string, l testpki.Leaf) {
	t.Helper()
	l.Write(t, dir, CertFile, KeyFile)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// certsDir lays out a certs directory: a default certificate for localhost, one folder
// for a.example.com, one for a wildcard, and the CA in CAs/.
func certsDir(t *testing.T, ca *testpki.CA) (dir string, def, a, wild testpki.Leaf) {
	dir = t.TempDir()
	def = ca.Issue(t, 100, "localhost")
	a = ca.Issue(t, 200, "a.example.com")
	wild = ca.Issue(t, 300, "*.wild.example")
	writePair(t, dir, def)
	writePair(t, filepath.Join(dir, "a.example.com"), a)
	writePair(t, filepath.Join(dir, "wildcard"), wild)
	if err := os.Mkdir(filepath.Join(dir, CAsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, CAsDir, "test-ca.pem"), ca.PEM)
	return dir, def, a, wild
}

// serveTLS runs an echo server on 127.0.0.1 with cfg until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// dial connects with SNI name, trusting roots, and returns the connection and the serial
// number of the certificate the server sent.
func dial(t *testing.T, addr, name string, roots *x509.CertPool) (*tls.Conn, int64) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		t.Fatalf("dial %s as %q: %v", addr, name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func echo(t *testing.T, c *tls.Conn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != msg+"\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
}

func TestSNISelection(t *testing.T) {
	ca := newTestCA(t)
	dir, def, a, wild := certsDir(t, ca)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s.ServerConfig())
	tests := []struct {
		name string
		want testpki.Leaf
	}{
		{"localhost", def},
		{"a.example.com", a},
		{"A.Example.COM", a},
		{"b.wild.example", wild},
	}
	for _, tt := range tests {
		c, serial := dial(t, addr, tt.name, s.RootCAs())
		if serial != tt.want.Serial {
			t.Errorf("SNI %q: served serial %d, want %d", tt.name, serial, tt.want.Serial)
		}
		if v := c.ConnectionState().Version; v != tls.VersionTLS13 {
			t.Errorf("SNI %q: version %x, want TLS 1.3", tt.name, v)
		}
	}
	// Names with no certificate of their own get the default one (checked below without
	// verification, since the default does not name them).
	for _, name := range []string{"", "unknown.example", "x.y.wild.example"} {
		c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		if err != nil || c.Leaf.SerialNumber.Int64() != def.Serial {
			t.Errorf("GetCertificate(%q) = serial %v, %v; want the default", name, c.Leaf.SerialNumber, err)
		}
	}
}

func TestVersionFloorAndSuites(t *testing.T) {
	ca := newTestCA(t)
	dir, _, _, _ := certsDir(t, ca)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s.ServerConfig())
	old := &tls.Config{ServerName: "localhost", RootCAs: s.RootCAs(), MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	tls12 := &tls.Config{ServerName: "localhost", RootCAs: s.RootCAs(), MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}
	if c, err := tls.Dial("tcp", addr, tls12); err == nil {
		c.Close()
		t.Fatal("TLS 1.2 with a CBC suite succeeded")
	}
	tls12.CipherSuites = nil
	c, err := tls.Dial("tcp", addr, tls12)
	if err != nil {
		t.Fatalf("TLS 1.2 with default suites: %v", err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.Version != tls.VersionTLS12 {
		t.Fatalf("version %x, want TLS 1.2", st.Version)
	}
}

// TestReloadSwapsCertificate checks that Reload serves the new certificate to new
// connections while a connection made before keeps working, and that a failed Reload
// keeps the old certificates.
func TestReloadSwapsCertificate(t *testing.T) {
	ca := newTestCA(t)
	dir, def, _, _ := certsDir(t, ca)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s.ServerConfig())
	before, serial := dial(t, addr, "localhost", s.RootCAs())
	if serial != def.Serial {
		t.Fatalf("serial %d, want %d", serial, def.Serial)
	}
	echo(t, before, "before reload")

	next := ca.Issue(t, 101, "localhost")
	writePair(t, dir, next)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, serial := dial(t, addr, "localhost", s.RootCAs()); serial != next.Serial {
		t.Fatalf("after Reload: serial %d, want %d", serial, next.Serial)
	}
	echo(t, before, "still up after reload")

	// A mismatched pair: the certificate of one key with another key.
	other := ca.Issue(t, 102, "localhost")
	writeFile(t, filepath.Join(dir, KeyFile), other.KeyPEM)
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a mismatched pair succeeded")
	}
	if _, serial := dial(t, addr, "localhost", s.RootCAs()); serial != next.Serial {
		t.Fatalf("after failed Reload: serial %d, want the previous %d", serial, next.Serial)
	}
}

func TestLoadErrors(t *testing.T) {
	ca := newTestCA(t)
	good := ca.Issue(t, 1, "localhost")
	other := ca.Issue(t, 2, "localhost")
	tests := []struct {
		name    string
		layout  func(t *testing.T, dir string)
		wantAll []string // substrings of the error
		wantIs  error
	}{
		{"mismatched pair", func(t *testing.T, dir string) {
			writePair(t, dir, testpki.Leaf{CertPEM: good.CertPEM, KeyPEM: other.KeyPEM})
		}, []string{CertFile, KeyFile, "does not match"}, nil},
		{"missing key", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, CertFile), good.CertPEM)
		}, []string{KeyFile}, fs.ErrNotExist},
		{"missing certificate", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, KeyFile), good.KeyPEM)
		}, []string{CertFile}, fs.ErrNotExist},
		{"garbage certificate", func(t *testing.T, dir string) {
			writePair(t, dir, testpki.Leaf{CertPEM: []byte("not pem"), KeyPEM: good.KeyPEM})
		}, []string{CertFile, KeyFile}, nil},
		{"domain folder with a bad pair", func(t *testing.T, dir string) {
			writePair(t, dir, good)
			writePair(t, filepath.Join(dir, "b.example"), testpki.Leaf{CertPEM: other.CertPEM, KeyPEM: good.KeyPEM})
		}, []string{filepath.Join("b.example", CertFile), "does not match"}, nil},
		{"domain folder with an empty key", func(t *testing.T, dir string) {
			writePair(t, dir, good)
			writePair(t, filepath.Join(dir, "c.example"), good)
			writeFile(t, filepath.Join(dir, "c.example", KeyFile), nil)
		}, []string{filepath.Join("c.example", KeyFile)}, nil},
		{"CA file without certificates", func(t *testing.T, dir string) {
			writePair(t, dir, good)
			writePair(t, filepath.Join(dir, CAsDir), good)
			writeFile(t, filepath.Join(dir, CAsDir, "bad.pem"), []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n"))
		}, []string{filepath.Join(CAsDir, "bad.pem"), "no PEM certificate"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.layout(t, dir)
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, want := range tt.wantAll {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
		})
	}
}

// TestFolderWithoutPairIsIgnored checks that a sub-folder holding neither file is not
// taken for a domain.
func TestFolderWithoutPairIsIgnored(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	writePair(t, dir, ca.Issue(t, 1, "localhost"))
	writeFile(t, filepath.Join(dir, "README"), []byte("x"))
	if err := os.Mkdir(filepath.Join(dir, "backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
}

// TestNodeCAsPEM checks that NodeCAsPEM holds every certificate of every file in CAs/,
// and only those (not the system's), in a form a PEM file reader takes back whole.
func TestNodeCAsPEM(t *testing.T) {
	one, two := newTestCA(t), testpki.NewCA(t, "second CA")
	dir := t.TempDir()
	writePair(t, dir, one.Issue(t, 1, "localhost"))
	if err := os.Mkdir(filepath.Join(dir, CAsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, CAsDir, "one.crt"), one.PEM)
	writeFile(t, filepath.Join(dir, CAsDir, "two.pem"), two.PEM)
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for block, r := pem.Decode(s.NodeCAsPEM()); block != nil; block, r = pem.Decode(r) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.Subject.CommonName)
	}
	want := []string{one.Cert.Subject.CommonName, two.Cert.Subject.CommonName}
	if !slices.Equal(got, want) {
		t.Fatalf("NodeCAsPEM holds %q, want %q", got, want)
	}
}
