package txn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPutAfterGetUsesTheRightRecord: Put takes the record of the key the
// last read found (storeTx.record) only for that key; a Put of another key,
// of an absent key after a read, or after a read in another store, must
// write that key's own record, in this transaction and the next one (the
// cached pair is reset with the pooled object).
func TestPutAfterGetUsesTheRightRecord(t *testing.T) {
	e := NewEngine()
	s := NewStore[string, int](e)
	other := NewStore[string, int](e)
	require.NoError(t, e.Update(func(tx Tx) error {
		require.NoError(t, Put(tx, s, "a", 1))
		return Put(tx, other, "b", 10)
	}))
	require.NoError(t, e.Update(func(tx Tx) error {
		v, ok := Get(tx, s, "a")
		require.True(t, ok)
		require.NoError(t, Put(tx, s, "a", v+1)) // same key: the cached record
		require.NoError(t, Put(tx, s, "c", v))   // another key: its own record
		_, ok = Get(tx, s, "missing")            // a miss does not replace the cache
		require.False(t, ok)
		require.NoError(t, Put(tx, s, "missing", 7))
		w, _ := Get(tx, other, "b")
		return Put(tx, s, "b", w) // "b" of s, not other's "b"
	}))
	for range 3 { // later transactions reuse the pooled objects
		require.NoError(t, e.Update(func(tx Tx) error {
			return Put(tx, s, "a2", 5)
		}))
	}
	require.NoError(t, e.View(func(tx Tx) error {
		for k, want := range map[string]int{"a": 2, "c": 1, "missing": 7, "b": 10, "a2": 5} {
			got, ok := Get(tx, s, k)
			require.True(t, ok, k)
			require.Equal(t, want, got, k)
		}
		got, _ := Get(tx, other, "b")
		require.Equal(t, 10, got)
		_, ok := Get(tx, other, "a")
		require.False(t, ok)
		return nil
	}))
	require.Equal(t, 5, s.Len())
}
