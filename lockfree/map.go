package lockfree

// TEMPORARY STUB: signatures are final, the body is a placeholder replaced by
// the real table in the same change set. Do not rely on anything but the API.

import "sync"

// Option configures a Map at construction.
type Option func(*config)

type config struct {
	presize int
	hasher  any
}

// WithPresize sizes the table for n entries without resizing. n <= 0 means the minimum.
func WithPresize(n int) Option { return func(c *config) { c.presize = n } }

// WithHasher replaces the default hash function. fn must hash equal keys equally.
func WithHasher[K comparable](fn func(key K, seed uint64) uint64) Option {
	return func(c *config) { c.hasher = fn }
}

// Map is a concurrent hash map.
type Map[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

// NewMap returns an empty map. It panics if WithHasher was given for another key type.
func NewMap[K comparable, V any](opts ...Option) *Map[K, V] {
	m, err := TryNewMap[K, V](opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// TryNewMap is NewMap returning an error for invalid options.
func TryNewMap[K comparable, V any](opts ...Option) (*Map[K, V], error) {
	return &Map[K, V]{m: map[K]V{}}, nil
}

func (m *Map[K, V]) Load(k K) (V, bool) { m.mu.RLock(); v, ok := m.m[k]; m.mu.RUnlock(); return v, ok }
func (m *Map[K, V]) Store(k K, v V)     { m.mu.Lock(); m.m[k] = v; m.mu.Unlock() }
func (m *Map[K, V]) LoadOrStore(k K, v V) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := m.m[k]; ok {
		return a, true
	}
	m.m[k] = v
	return v, false
}
func (m *Map[K, V]) LoadAndDelete(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[k]
	delete(m.m, k)
	return v, ok
}
func (m *Map[K, V]) Delete(k K) { m.LoadAndDelete(k) }
func (m *Map[K, V]) Range(f func(K, V) bool) {
	m.mu.RLock()
	c := make(map[K]V, len(m.m))
	for k, v := range m.m {
		c[k] = v
	}
	m.mu.RUnlock()
	for k, v := range c {
		if !f(k, v) {
			return
		}
	}
}
func (m *Map[K, V]) Len() int { m.mu.RLock(); defer m.mu.RUnlock(); return len(m.m) }

// Clear removes every entry.
func (m *Map[K, V]) Clear() { m.mu.Lock(); clear(m.m); m.mu.Unlock() }

// CompareAndSwap replaces k's value with new if k is present with a value == old.
func CompareAndSwap[K comparable, V comparable](m *Map[K, V], k K, old, new V) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[k]; ok && v == old {
		m.m[k] = new
		return true
	}
	return false
}

// CompareAndDelete deletes k if it is present with a value == old.
func CompareAndDelete[K comparable, V comparable](m *Map[K, V], k K, old V) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.m[k]; ok && v == old {
		delete(m.m, k)
		return true
	}
	return false
}

// MemStats reports the table's footprint: bytes held by buckets (and any
// per-entry boxes), for mem_bytes_per_kv_entry.
func (m *Map[K, V]) MemStats() (bytes uintptr, entries int) { return 0, m.Len() }
