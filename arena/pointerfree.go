package arena

import "reflect"

// PointerFree reports whether values of type T contain no Go pointers, which
// is what a type must satisfy to live in [Arena] memory. Use it in tests or at
// init to assert that a record type may be stored there.
//
// Pointers, slices, maps, channels, functions, interfaces, strings and
// unsafe.Pointer count as pointers, anywhere inside structs and arrays.
// uintptr counts as an integer, which is what it is to the GC; that is exactly
// why a pointer hidden in one is not kept alive, and why it must never hold
// one in arena memory.
func PointerFree[T any]() bool { return !hasPointers(reflect.TypeFor[T]()) }

// hasPointers reports whether values of type t contain Go pointers.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default: // Pointer, Slice, Map, Chan, Func, Interface, String, UnsafePointer
		return true
	}
}
