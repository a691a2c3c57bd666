package prims

import (
	"fmt"

	"github.com/google/uuid"
)

// RunID identifies an agent run: a random (version 4) UUID held as a
// 16-byte array, so it is comparable, usable as a map key, and copied by
// value without allocating.
//
// The zero RunID is not a run: every operation that takes a RunID rejects it
// with an error wrapping ErrInvalid (reads report nothing found). Make IDs
// with NewRunID (or RunIndex.Create); ParseRunID reads their text form.
type RunID [16]byte

// NewRunID returns a fresh random (version 4) RunID from crypto/rand.
func NewRunID() RunID { return RunID(uuid.New()) }

// ParseRunID parses a UUID's text: the canonical form that String returns
// (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) and the other forms that
// github.com/google/uuid's Parse accepts (urn:uuid: prefix, braces, 32 hex
// digits). It does not check the UUID's version, so IDs made elsewhere can
// be used. The zero UUID is rejected: errors wrap ErrInvalid.
func ParseRunID(s string) (RunID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return RunID{}, fmt.Errorf("%w: run id %q: %v", ErrInvalid, s, err)
	}
	if u == (uuid.UUID{}) {
		return RunID{}, fmt.Errorf("%w: run id %q is the zero UUID", ErrInvalid, s)
	}
	return RunID(u), nil
}

// String returns the canonical UUID text, 36 characters, lower-case hex.
func (r RunID) String() string { return uuid.UUID(r).String() }

// IsZero reports whether r is the zero RunID (which names no run).
func (r RunID) IsZero() bool { return r == RunID{} }

// MarshalText implements encoding.TextMarshaler (the String form), so RunIDs
// encode as JSON strings.
func (r RunID) MarshalText() ([]byte, error) { return uuid.UUID(r).MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler with ParseRunID's rules,
// zero UUID rejected.
func (r *RunID) UnmarshalText(b []byte) error {
	id, err := ParseRunID(string(b))
	if err != nil {
		return err
	}
	*r = id
	return nil
}
