// An assembly file, empty, so that the compiler accepts the bodyless
// function declarations that procid.go links to the runtime.
