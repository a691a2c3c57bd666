package prims

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"unsafe"
)

// Codec encodes an EventLog payload into the bytes that the event's hash
// covers. Payloads are stored as Go values; the encoding is used only for
// hashing (at Append and again by VerifyChain), never to store or decode.
// It must be deterministic: equal payloads must encode to equal bytes, or
// VerifyChain reports valid events as broken.
type Codec[P any] interface {
	// AppendPayload appends p's encoding to dst and returns the extended
	// slice.
	AppendPayload(dst []byte, p P) ([]byte, error)
}

// CodecFunc adapts a function to Codec.
type CodecFunc[P any] func(dst []byte, p P) ([]byte, error)

// AppendPayload calls f(dst, p).
func (f CodecFunc[P]) AppendPayload(dst []byte, p P) ([]byte, error) { return f(dst, p) }

// JSONCodec encodes payloads with encoding/json (json.Marshal). Its output
// is deterministic for the types encoding/json handles (map keys are
// sorted). It allocates per event; prefer []byte, string or a type with
// AppendBinary for payloads on hot paths.
type JSONCodec[P any] struct{}

// AppendPayload appends json.Marshal(p) to dst.
func (JSONCodec[P]) AppendPayload(dst []byte, p P) ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// EventLogOption configures an EventLog at creation (NewEventLog).
type EventLogOption func(*eventLogConfig)

type eventLogConfig struct {
	codec any // Codec[P] for the log's P; checked by NewEventLog
}

// WithCodec sets the codec that encodes payloads for hashing. P must be the
// log's payload type: NewEventLog fails with an error wrapping ErrInvalid
// otherwise. An explicit codec takes precedence over every built-in
// encoding (bytes, strings, AppendBinary, MarshalBinary). It applies when
// the log is created; reopening an existing log ignores it.
func WithCodec[P any](c Codec[P]) EventLogOption {
	return func(cfg *eventLogConfig) {
		if c != nil {
			cfg.codec = c
		}
	}
}

// payloadEncoder appends the canonical bytes of p to dst. It takes p by
// value: a pointer to the caller's payload passed through this indirect call
// would force every payload onto the heap.
type payloadEncoder[P any] func(dst []byte, p P) ([]byte, error)

// newPayloadEncoder picks P's encoding once, at log creation:
//
//  1. an explicit codec (WithCodec);
//  2. a string or byte slice type (named ones included): its bytes as they
//     are, read through the type's underlying representation without a
//     conversion or an allocation;
//  3. a type that implements encoding.BinaryAppender (with a value or a
//     pointer receiver): AppendBinary into the hash buffer; else one that
//     implements encoding.BinaryMarshaler: MarshalBinary. A nil pointer
//     payload encodes as no bytes;
//  4. an interface type: the dynamic value is examined per event by the
//     same rules (a []byte, a string, AppendBinary, MarshalBinary), else
//     JSON;
//  5. otherwise encoding/json (JSONCodec).
//
// Rule 3 with a value P that is not pointer-shaped boxes it into an
// interface: one allocation per encoding.
func newPayloadEncoder[P any](cfg eventLogConfig) (payloadEncoder[P], error) {
	if cfg.codec != nil {
		c, ok := cfg.codec.(Codec[P])
		if !ok {
			return nil, fmt.Errorf("%w: WithCodec codec %T does not encode the log's payload type %v",
				ErrInvalid, cfg.codec, reflect.TypeFor[P]())
		}
		return c.AppendPayload, nil
	}
	t := reflect.TypeFor[P]()
	switch {
	case t.Kind() == reflect.String:
		return func(dst []byte, p P) ([]byte, error) {
			return append(dst, *(*string)(unsafe.Pointer(&p))...), nil
		}, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return func(dst []byte, p P) ([]byte, error) {
			return append(dst, *(*[]byte)(unsafe.Pointer(&p))...), nil
		}, nil
	case t.Kind() == reflect.Interface:
		return func(dst []byte, p P) ([]byte, error) { return appendDynamic(dst, any(p)) }, nil
	}
	appender := reflect.TypeFor[encoding.BinaryAppender]()
	marshaler := reflect.TypeFor[encoding.BinaryMarshaler]()
	isNil := func(p P) bool { return false }
	if t.Kind() == reflect.Pointer {
		isNil = func(p P) bool { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) == nil }
	}
	switch {
	case t.Implements(appender):
		return func(dst []byte, p P) ([]byte, error) {
			if isNil(p) {
				return dst, nil
			}
			return any(p).(encoding.BinaryAppender).AppendBinary(dst)
		}, nil
	case reflect.PointerTo(t).Implements(appender):
		return func(dst []byte, p P) ([]byte, error) {
			return any(&p).(encoding.BinaryAppender).AppendBinary(dst)
		}, nil
	case t.Implements(marshaler):
		return func(dst []byte, p P) ([]byte, error) {
			if isNil(p) {
				return dst, nil
			}
			b, err := any(p).(encoding.BinaryMarshaler).MarshalBinary()
			return append(dst, b...), err
		}, nil
	case reflect.PointerTo(t).Implements(marshaler):
		return func(dst []byte, p P) ([]byte, error) {
			b, err := any(&p).(encoding.BinaryMarshaler).MarshalBinary()
			return append(dst, b...), err
		}, nil
	}
	return JSONCodec[P]{}.AppendPayload, nil
}

// appendDynamic encodes an interface payload by its dynamic type.
func appendDynamic(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return dst, nil
	case []byte:
		return append(dst, x...), nil
	case string:
		return append(dst, x...), nil
	case encoding.BinaryAppender:
		return x.AppendBinary(dst)
	case encoding.BinaryMarshaler:
		b, err := x.MarshalBinary()
		return append(dst, b...), err
	}
	b, err := json.Marshal(v)
	return append(dst, b...), err
}
