package etcdtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Refusal is how long CheckMutualTLS waits for an answer that must not come.
const Refusal = 3 * time.Second

// CheckMutualTLS checks that the etcd member serving clientURL and peerURL (https://) gives
// nothing to clients without a certificate of the cluster, and everything to one with:
//
//   - a gRPC client (clientv3) of clientURL reading key: in plain HTTP, over TLS without a
//     client certificate, and over TLS with a certificate of another CA (other), it gets no
//     answer within Refusal; with good (a node's client TLS) it reads key, which must exist;
//   - HTTP requests to clientURL's JSON gateway (a range of key) and to peerURL's member
//     list (/members): the same three are refused (no connection, or the 400 of Go's TLS
//     server to a plain request), and good gets 200.
//
// roots are the CAs the member's certificate chains to, trusted by every TLS client here:
// what they lack is only the client certificate.
func CheckMutualTLS(t testing.TB, clientURL, peerURL string, roots *x509.CertPool, other tls.Certificate, good *tls.Config, key string) {
	t.Helper()
	clients := []struct {
		name string
		tls  *tls.Config // nil: plain HTTP
	}{
		{"plain HTTP", nil},
		{"TLS without a client certificate", &tls.Config{RootCAs: roots}},
		// Sent whatever CAs the server names (crypto/tls would send no certificate
		// from Certificates that chains to none of them).
		{"TLS with another CA's certificate", &tls.Config{RootCAs: roots, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &other, nil
		}}},
		{"TLS with the node's certificate", good},
	}
	// Every client at once: each refused one waits out Refusal.
	reports := make([][]string, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() { reports[i] = checkClient(clientURL, peerURL, key, c.name, c.tls, c.tls == good) })
	}
	wg.Wait()
	for i, r := range reports {
		for _, line := range r {
			if strings.HasPrefix(line, "ok: ") {
				t.Logf("%s: %s", clients[i].name, line[4:])
			} else {
				t.Errorf("%s: %s", clients[i].name, line)
			}
		}
	}
}

// checkClient makes CheckMutualTLS's requests as one client (tc nil: plain HTTP) and
// returns what it saw: failures, and the refusals seen prefixed with "ok: ".
func checkClient(clientURL, peerURL, key, name string, tc *tls.Config, allowed bool) []string {
	var out []string
	plain := func(u string) string {
		if tc == nil {
			return "http://" + strings.TrimPrefix(u, "https://")
		}
		return u
	}
	endpoint := plain(clientURL)
	n, err := rangeCount(endpoint, tc, key)
	switch {
	case allowed && (err != nil || n != 1):
		out = append(out, fmt.Sprintf("etcd client of %s: %d keys of %s, %v; want it read", endpoint, n, key, err))
	case !allowed && err == nil:
		out = append(out, fmt.Sprintf("etcd client of %s: read %d keys of %s; want no answer", endpoint, n, key))
	case !allowed:
		out = append(out, fmt.Sprintf("ok: etcd client of %s: %v", endpoint, err))
	}
	body := fmt.Sprintf(`{"key":%q}`, base64.StdEncoding.EncodeToString([]byte(key)))
	for _, req := range []struct{ method, url, body string }{
		{http.MethodPost, plain(clientURL) + "/v3/kv/range", body},
		{http.MethodGet, plain(peerURL) + "/members", ""},
	} {
		status, got, err := do(req.method, req.url, req.body, tc)
		switch {
		case allowed && status != http.StatusOK:
			out = append(out, fmt.Sprintf("%s %s: %d %q, %v; want 200", req.method, req.url, status, got, err))
		case !allowed && err == nil && status != http.StatusBadRequest:
			out = append(out, fmt.Sprintf("%s %s: %d %q; want no connection or 400", req.method, req.url, status, got))
		case !allowed:
			out = append(out, fmt.Sprintf("ok: %s %s: %d %q, %v", req.method, req.url, status, strings.TrimSpace(got), err))
		}
	}
	return out
}

// rangeCount reads key through a new client of endpoint, giving up after Refusal.
func rangeCount(endpoint string, tc *tls.Config, key string) (int64, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: Refusal, Logger: zap.NewNop(), TLS: tc})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), Refusal)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	return resp.Count, nil
}

// do makes one HTTP request and returns the status and the start of the body.
func do(method, u, body string, tc *tls.Config) (int, string, error) {
	hc := &http.Client{Timeout: Refusal, Transport: &http.Transport{TLSClientConfig: tc}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(b), nil
}
