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
	// RetryEvery, if positive, makes Open succeed when the store cannot be read (drives
	// below read quorum): the Manager starts unavailable (no identities; changes and
	// lookups fail with ErrUnavailable) and loads again at this interval until it can,
	// or the context given to Open ends. Zero: Open fails.
	RetryEvery time.Duration
	// OnError, if set, is told of each failed load (for the log).
	OnError func(error)
}

// Manager keeps the identities and changes them. It is safe for concurrent use; changes
// are serialised.
type Manager struct {
	store    Store
	sealer   *Sealer
	account  string
	now      func() time.Time
	previous string // the previous root secret, to reseal

	// mu serialises changes; st, secrets and rev are what the last change left, GUARDED_BY(mu).
	mu      sync.Mutex
	st      *state
	secrets map[string]string // access key id -> secret
	rev     uint64
	// loaded tells that st is the stored document (GUARDED_BY(mu)): until then nothing
	// may be read or changed.
	loaded bool
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
	// The account's quotas, IAM's defaults: the whole state is one record rewritten on
	// each change, so they also bound what a change costs.
	MaxUsers    = 5000
	MaxGroups   = 300
	MaxPolicies = 1500
	MaxRoles    = 1000
)

// quota refuses the creation of the n+1st entity of a kind with IAM's LimitExceeded.
func quota(n, max int, kind string) error {
	if n >= max {
		return newErr(ErrLimitExceeded, "Cannot exceed quota for %sPerAccount: %d", kind, max)
	}
	return nil
}

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
	m := &Manager{store: cfg.Store, sealer: sealer, account: cfg.Account, now: cfg.Now, previous: cfg.PreviousRootSecret,
		st: newState(sealer.check), secrets: map[string]string{}}
	m.snap.Store(buildSnapshot(0, m.account, m.st, m.secrets))
	err = m.load(ctx)
	if err == nil || errors.Is(err, ErrSealKey) || cfg.RetryEvery <= 0 {
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	// The store cannot be read now (drives below read quorum): serve without the
	// identities (their keys are unknown, changes and lookups ErrUnavailable) and keep
	// trying; never write an empty state over what the store holds.
	if cfg.OnError != nil {
		cfg.OnError(err)
	}
	go m.retryLoad(ctx, cfg.RetryEvery, cfg.OnError)
	return m, nil
}

// retryLoad loads the identities every interval until it succeeds, the root secret is
// found wrong (which waiting does not mend), or ctx ends.
func (m *Manager) retryLoad(ctx context.Context, every time.Duration, onError func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := m.load(ctx)
		if err == nil {
			return
		}
		if onError != nil {
			onError(err)
		}
		if errors.Is(err, ErrSealKey) {
			return
		}
	}
}

// load reads the document, opens its secrets, publishes it and, when it was sealed under
// the previous root secret (or nothing is sealed yet under another), reseals it.
func (m *Manager) load(ctx context.Context) error {
	reseal, err := m.loadLocked(ctx)
	if err != nil || !reseal {
		return err
	}
	sealer := m.sealer
	err = m.update(ctx, func(st *state, secrets map[string]string) error {
		st.SealCheck = sealer.check
		for _, u := range st.Users {
			for i := range u.Keys {
				k := &u.Keys[i]
				var err error
				if k.Sealed, err = sealer.Seal(k.ID, secrets[k.ID]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: resealing under the new root secret: %w", err)
	}
	return nil
}

func (m *Manager) loadLocked(ctx context.Context) (reseal bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	doc, rev, err := m.store.Load(ctx)
	if err != nil {
		return false, err
	}
	st := newState(m.sealer.check)
	if doc != nil {
		if st, err = decodeState(doc); err != nil {
			return false, err
		}
	}
	opener := m.sealer
	if st.SealCheck != m.sealer.check && !st.hasKeys() {
		// Nothing sealed: the new root secret takes over at once.
		reseal = true
	} else if st.SealCheck != m.sealer.check {
		if m.previous == "" {
			return false, ErrSealKey
		}
		if opener, err = NewSealer(m.previous); err != nil {
			return false, err
		}
		if st.SealCheck != opener.check {
			return false, ErrSealKey
		}
		reseal = true
	}
	secrets := map[string]string{}
	for _, u := range st.Users {
		for _, k := range u.Keys {
			secret, err := opener.Unseal(k.ID, k.Sealed)
			if err != nil {
				return false, err
			}
			secrets[k.ID] = secret
		}
	}
	m.st, m.secrets, m.rev, m.loaded = st, secrets, rev, true
	m.snap.Store(buildSnapshot(m.snap.Load().Epoch+1, m.account, st, secrets))
	for _, fn := range m.subs {
		fn()
	}
	return reseal, nil
}

// Reload reads the document again and publishes it (a new epoch, the subscribers told):
// a shared store's watch calls it when another node saved, so that the change is enforced
// here at once, and when the watch broke. When the document cannot be read, the Manager
// becomes unavailable (no identities: their keys are unknown, changes fail with
// ErrUnavailable) until a later Reload succeeds: a node cut from the shared store must
// not keep honouring a key that another node may have revoked.
func (m *Manager) Reload(ctx context.Context) error {
	err := m.load(ctx)
	if err != nil {
		m.unload()
	}
	return err
}

// unload forgets the identities and publishes the empty view.
func (m *Manager) unload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st, m.secrets, m.loaded = newState(m.sealer.check), map[string]string{}, false
	m.snap.Store(buildSnapshot(m.snap.Load().Epoch+1, m.account, m.st, m.secrets))
	for _, fn := range m.subs {
		fn()
	}
}

// Available reports ErrUnavailable until the identities have been read from the store.
func (m *Manager) Available() error {
	return m.read(func(*state) error { return nil })
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
	if !m.loaded {
		return ErrUnavailable
	}
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
	if !m.loaded {
		return ErrUnavailable
	}
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
