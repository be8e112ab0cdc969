package etcdconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// valueVersion is the envelope's version this code writes; decode reads it and refuses
// any other, naming the key.
const valueVersion = 1

// envelope is how every value is stored: {"v":1,"doc":"..."}.
type envelope struct {
	V   int     `json:"v"`
	Doc *string `json:"doc"`
}

// encode returns the stored form of doc.
func encode(doc string) []byte {
	b, err := json.Marshal(envelope{V: valueVersion, Doc: &doc})
	if err != nil {
		panic(err) // a struct of an int and a string always marshals
	}
	return b
}

// decode returns the document of the value stored at key, or an error that names key.
func decode(key string, b []byte) (string, error) {
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return "", fmt.Errorf("etcdconfig: %s: corrupt value: %w", key, err)
	}
	if dec.More() {
		return "", fmt.Errorf("etcdconfig: %s: corrupt value: data after the document", key)
	}
	if e.V != valueVersion {
		return "", fmt.Errorf("etcdconfig: %s: value version %d, want %d", key, e.V, valueVersion)
	}
	if e.Doc == nil {
		return "", fmt.Errorf("etcdconfig: %s: corrupt value: no document", key)
	}
	return *e.Doc, nil
}
