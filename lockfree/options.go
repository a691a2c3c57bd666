package lockfree

import (
	"errors"
	"fmt"
	"reflect"
)

// Option configures a Map at construction. Options are applied in order.
type Option func(*config)

type config struct {
	presize int
	hasher  any // func(K, uint64) uint64 for the map's K; checked by TryNewMap
}

// WithPresize sizes the table so that n entries fit without a resize.
// n <= 0 is clamped to the minimum table (one group of slots); sizes above
// 1<<40 entries are clamped to 1<<40.
func WithPresize(n int) Option {
	return func(c *config) {
		if n < 0 {
			n = 0
		}
		if n > maxPresize {
			n = maxPresize
		}
		c.presize = n
	}
}

// WithHasher replaces the built-in hash function for keys of type K.
// fn must return equal hashes for equal keys (as defined by ==) and should
// mix every input bit into the result; seed is a per-map random value that
// fn should fold in. The K of WithHasher must be the Map's key type:
// TryNewMap reports a mismatch as ErrHasherType, NewMap panics on it.
func WithHasher[K comparable](fn func(key K, seed uint64) uint64) Option {
	return func(c *config) {
		if fn != nil {
			c.hasher = fn
		}
	}
}

// ErrHasherType is returned by TryNewMap when WithHasher was given a
// function for a key type other than the map's.
var ErrHasherType = errors.New("lockfree: WithHasher key type does not match the map's key type")

const maxPresize = 1 << 40

func buildConfig[K comparable](opts []Option) (config, func(K, uint64) uint64, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.hasher == nil {
		return c, nil, nil
	}
	fn, ok := c.hasher.(func(K, uint64) uint64)
	if !ok {
		return c, nil, fmt.Errorf("%w: got %T, want func(%v, uint64) uint64",
			ErrHasherType, c.hasher, reflect.TypeFor[K]())
	}
	return c, fn, nil
}
