package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Manager.
type Config struct {
	// Store keeps the document. Required.
	Store Store
	// RootSecret seals the secrets at rest. Required.
	RootSecret string
	// PreviousRootSecret, if set, opens a document sealed under it, which Open then
	// reseals under RootSecret: the way to change the root secret.
	PreviousRootSecret string
	// Account is the 12-digit account id of every ARN; "000000000000" when empty.
	Account string
	// Now is the clock of creation times; time.Now when nil.
	Now func() time.Time
}

// Manager keeps the identities and changes them. It is safe for concurrent use; changes
// are serialised.
type Manager struct {
	store   Store
	sealer  *Sealer
	account string
	now     func() time.Time

	// mu serialises changes; st, secrets and rev are what the last change left, GUARDED_BY(mu).
	mu      sync.Mutex
	st      *state
	secrets map[string]string // access key id -> secret
	rev     uint64
	// snap is the current read view. INVARIANT: it is built from st and secrets.
	snap atomic.Pointer[Snapshot]
	// subs are called after each change is published (GUARDED_BY(mu) to change).
	subs []func()
}

// Limits IAM applies that this implementation enforces.
const (
	MaxKeysPerUser       = 2
	MaxAttachedPolicies  = 10
	MaxUserInlineSize    = 2048
	MaxGroupInlineSize   = 5120
	MaxRoleInlineSize    = 10240
	DefaultSessionMaxAge = 3600
)

// Open loads the identities from cfg.Store, or starts empty.
func Open(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.RootSecret == "" {
		return nil, errors.New("identity: Config.Store and Config.RootSecret are required")
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sealer, err := NewSealer(cfg.RootSecret)
	if err != nil {
		return nil, err
	}
	m := &Manager{store: cfg.Store, sealer: sealer, account: cfg.Account, now: cfg.Now, secrets: map[string]string{}}
	doc, rev, err := cfg.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	m.rev = rev
	if doc == nil {
		m.st = newState(sealer.check)
	} else if m.st, err = decodeState(doc); err != nil {
		return nil, err
	}
	reseal := false
	opener := sealer
	if m.st.SealCheck != sealer.check && !m.st.hasKeys() {
		// Nothing sealed: the new root secret takes over at once.
		reseal = true
	} else if m.st.SealCheck != sealer.check {
		if cfg.PreviousRootSecret == "" {
			return nil, ErrSealKey
		}
		if opener, err = NewSealer(cfg.PreviousRootSecret); err != nil {
			return nil, err
		}
		if m.st.SealCheck != opener.check {
			return nil, ErrSealKey
		}
		reseal = true
	}
	for _, u := range m.st.Users {
		for _, k := range u.Keys {
			secret, err := opener.Unseal(k.ID, k.Sealed)
			if err != nil {
				return nil, err
			}
			m.secrets[k.ID] = secret
		}
	}
	m.snap.Store(buildSnapshot(0, m.account, m.st, m.secrets))
	if reseal {
		if err := m.update(ctx, func(st *state, _ map[string]string) error {
			st.SealCheck = sealer.check
			for _, u := range st.Users {
				for i := range u.Keys {
					k := &u.Keys[i]
					if k.Sealed, err = sealer.Seal(k.ID, m.secrets[k.ID]); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("identity: resealing under the new root secret: %w", err)
		}
	}
	return m, nil
}

// Snapshot returns the current identities.
func (m *Manager) Snapshot() *Snapshot { return m.snap.Load() }

// Account returns the account id.
func (m *Manager) Account() string { return m.account }

// Subscribe registers fn, called after every published change (after the new snapshot is
// in place): the decision cache drops its entries there.
func (m *Manager) Subscribe(fn func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs = append(m.subs, fn)
}

// update applies fn to a copy of the state, stores it and publishes it.
func (m *Manager) update(ctx context.Context, fn func(st *state, secrets map[string]string) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st.clone()
	secrets := maps.Clone(m.secrets)
	if err := fn(st, secrets); err != nil {
		return err
	}
	doc, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	rev, err := m.store.Save(ctx, doc, m.rev)
	if errors.Is(err, ErrRevision) {
		return fmt.Errorf("%w: %w", errConcurrentChanges, err)
	}
	if err != nil {
		return err
	}
	m.st, m.secrets, m.rev = st, secrets, rev
	m.snap.Store(buildSnapshot(m.snap.Load().Epoch+1, m.account, st, secrets))
	for _, fn := range m.subs {
		fn()
	}
	return nil
}

// read runs fn on the current state under the lock (the state is replaced, never changed,
// so the lock only orders it with a change in progress).
func (m *Manager) read(fn func(st *state) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(m.st)
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newID returns prefix and n random characters of IAM's id alphabet.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// newSecret returns a 40-character secret access key.
func newSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
