package lockfree

import (
	"hash/maphash"
	"math"
	"math/bits"
	"reflect"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// hashKind selects the hash function for a key type. It is chosen once, in
// NewMap, from the key's reflect.Kind, so the hot path is a predictable
// switch with the hash inlined rather than an indirect call.
type hashKind uint8

const (
	hashWord64  hashKind = iota // 8-byte integers and pointer-shaped keys: Mix64
	hashWord32                  // 4-byte integers
	hashWord16                  // 2-byte integers
	hashWord8                   // 1-byte integers and bool
	hashFloat64                 // -0 and +0 hash alike; NaN never matches anyway
	hashFloat32                 // as hashFloat64
	hashString                  // xxhash64 of the bytes, mixed with the seed
	hashCustom                  // WithHasher
	hashGeneric                 // anything else comparable: hash/maphash.Comparable
)

func hashKindOf[K comparable]() hashKind {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr,
		reflect.Pointer, reflect.UnsafePointer, reflect.Chan:
		if t.Size() == 8 {
			return hashWord64
		}
		if t.Size() == 4 {
			return hashWord32
		}
	case reflect.Int32, reflect.Uint32:
		return hashWord32
	case reflect.Int16, reflect.Uint16:
		return hashWord16
	case reflect.Int8, reflect.Uint8, reflect.Bool:
		return hashWord8
	case reflect.Float64:
		return hashFloat64
	case reflect.Float32:
		return hashFloat32
	case reflect.String:
		return hashString
	}
	return hashGeneric
}

// mum is the 64x64->128 multiply-fold mixer of wyhash (Wang Yi): the
// product's high and low halves XORed. One MULQ; every input bit reaches
// the high half, and the fold brings it back to the low bits that select
// the tag. It is the word-key hash on the hot path (see Map.Load).
func mum(x uint64) uint64 {
	hi, lo := bits.Mul64(x, 0x9e3779b97f4a7c15)
	return hi ^ lo
}

// Mix64 is the splitmix64 finalizer (Steele, Lea, Flood, "Fast splittable
// pseudorandom number generators", OOPSLA'14): a bijection on 64 bits in
// which every input bit flips each output bit with probability near 1/2, so
// dense or strided integer keys spread evenly over groups and tags. It is
// exported for the hash functions that callers give WithHasher (and for
// packages that build their own tables of keys), so that they need not
// keep a copy.
func Mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// hash returns the 64-bit hash of k. The low 7 bits become the slot tag and
// the bits above them select the home group (see map.go).
func (m *Map[K, V]) hash(k K) uint64 {
	p := unsafe.Pointer(&k)
	switch m.hkind {
	case hashWord64:
		return mum(*(*uint64)(p) ^ m.seed)
	case hashWord32:
		return Mix64(uint64(*(*uint32)(p)) ^ m.seed)
	case hashWord16:
		return Mix64(uint64(*(*uint16)(p)) ^ m.seed)
	case hashWord8:
		return Mix64(uint64(*(*uint8)(p)) ^ m.seed)
	case hashFloat64:
		f := *(*float64)(p)
		if f == 0 {
			f = 0 // -0 == +0, so they must hash alike
		}
		return Mix64(math.Float64bits(f) ^ m.seed)
	case hashFloat32:
		f := *(*float32)(p)
		if f == 0 {
			f = 0
		}
		return Mix64(uint64(math.Float32bits(f)) ^ m.seed)
	case hashString:
		return Mix64(xxhash.Sum64String(*(*string)(p)) ^ m.seed)
	case hashCustom:
		return m.hasher(k, m.seed)
	default:
		return maphash.Comparable(m.mseed, k)
	}
}
