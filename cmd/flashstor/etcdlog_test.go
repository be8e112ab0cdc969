package main

import (
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
)

// TestEtcdLogger checks --etcd-log's levels: off by default, a level from which the etcd
// logs are written, and a precise refusal of a word that is not one.
func TestEtcdLogger(t *testing.T) {
	if l, err := etcdLogger("", "n1:9000"); l != nil || err != nil {
		t.Fatalf("no level: %v, %v; want no logger", l, err)
	}
	l, err := etcdLogger("warn", "n1:9000")
	if err != nil {
		t.Fatal(err)
	}
	if l.Core().Enabled(zapcore.InfoLevel) || !l.Core().Enabled(zapcore.WarnLevel) {
		t.Fatal("--etcd-log warn: info enabled or warn not")
	}
	if _, err := etcdLogger("loud", "n1:9000"); err == nil || !strings.Contains(err.Error(), "want debug, info, warn or error") {
		t.Fatalf("--etcd-log loud: %v", err)
	}
}
