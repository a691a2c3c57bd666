package prims

import (
	"fmt"
	"testing"
)

// BenchmarkKVStoreNewKey measures what a run's key set costs a Put that
// inserts a key and a Delete that removes it, as the run grows: one
// iteration is db.Update{Put(a new key)} then db.Update{Delete(that key)}
// in a run already holding keys=N keys, so the run stays at N keys. The
// keys (fixed-width, 9 bytes) are generated before the timer; the new keys
// fall between existing ones, spread over the whole set. The value store's
// records of deleted keys leave it as the watermark passes them (see Memory
// in the package doc), which is the same at every N.
func BenchmarkKVStoreNewKey(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			db := openDB(b)
			kv := must[*KVStore[uint64]](b)(NewKVStore[uint64](db, "kv"))
			run := NewRunID()
			// Existing keys are k<even>, new ones k<odd>, in ascending
			// order so that the fill appends (a fill transaction copies the
			// set once and then appends in place).
			const batch = 1_000
			for lo := 0; lo < n; lo += batch {
				mustUpdate(b, db, func(tx *Tx) error {
					for i := lo; i < min(lo+batch, n); i++ {
						if err := kv.Put(tx, run, fmt.Sprintf("k%08d", 2*i), uint64(i)); err != nil {
							return err
						}
					}
					return nil
				})
			}
			const nNew = 1 << 10
			fresh := make([]string, nNew)
			for i := range fresh {
				fresh[i] = fmt.Sprintf("k%08d", 2*(i*n/nNew)+1)
			}
			var key string
			put := func(tx *Tx) error { return kv.Put(tx, run, key, 1) }
			del := func(tx *Tx) error {
				existed, err := kv.Delete(tx, run, key)
				if err == nil && !existed {
					err = fmt.Errorf("%s was not there", key)
				}
				return err
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				key = fresh[i%nNew]
				if err := db.Update(put); err != nil {
					b.Fatal(err)
				}
				if err := db.Update(del); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			mustView(b, db, func(tx *Tx) error {
				if keys, err := kv.List(tx, run, ""); err != nil || len(keys) != n {
					b.Fatalf("run lists %d keys (%v), want %d", len(keys), err, n)
				}
				return nil
			})
		})
	}
}
