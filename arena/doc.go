// Package arena holds Substrate's low-level memory managers: a pointer-free
// byte arena and a typed node pool with epoch-deferred reuse.
//
// # Arena
//
// [Arena] hands out 8-byte-aligned regions of large []byte slabs, addressed by
// an integer handle [Ref] rather than a Go pointer. Slab memory contains no Go
// pointers, so the garbage collector allocates it as "noscan" and never reads
// it: millions of records stored there cost the GC nothing to mark. The flip
// side is a hard rule for callers: never store a Go pointer in arena memory,
// not even disguised as a uintptr or an integer, because the GC will not see it
// and may free what it points to. Store [Ref]s or other
// plain integers instead, and check record types with [PointerFree].
//
// # Pool
//
// [Pool] recycles typed heap nodes (which may contain pointers) the way
// epoch-based reclamation frees them (Fraser, "Practical lock-freedom", 2004;
// crossbeam-epoch): a node unlinked from a shared structure is retired with the
// current epoch and handed out again only once the [Epochs] implementation
// (package mvcc) says no reader can still hold it. sync.Pool cannot do this: it
// reuses an object as soon as it is Put back, whatever readers still see it.
// A [Stock] is one owner's private front to a Pool: the same rule, without
// the pool's lock on every node.
package arena
