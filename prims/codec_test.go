package prims

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

type appenderVal struct{ n int }

func (a appenderVal) AppendBinary(b []byte) ([]byte, error) {
	return strconv.AppendInt(b, int64(a.n), 10), nil
}

type appenderPtr struct{ n int }

func (a *appenderPtr) AppendBinary(b []byte) ([]byte, error) {
	return append(b, "ptr"+strconv.Itoa(a.n)...), nil
}

type marshaler struct{ s string }

func (m marshaler) MarshalBinary() ([]byte, error) { return []byte("m:" + m.s), nil }

type plain struct {
	A int               `json:"a"`
	M map[string]string `json:"m"`
}

type myBytes []byte
type myString string

func encodeWith[P any](t *testing.T, p P, opts ...EventLogOption) string {
	t.Helper()
	var cfg eventLogConfig
	for _, o := range opts {
		o(&cfg)
	}
	enc, err := newPayloadEncoder[P](cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := enc(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPayloadEncodings(t *testing.T) {
	jsonOf := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	cases := []struct{ name, got, want string }{
		{"[]byte", encodeWith(t, []byte("raw")), "raw"},
		{"string", encodeWith(t, "text"), "text"},
		{"named bytes", encodeWith(t, myBytes("nb")), "nb"},
		{"named string", encodeWith(t, myString("ns")), "ns"},
		{"AppendBinary value", encodeWith(t, appenderVal{42}), "42"},
		{"AppendBinary pointer receiver", encodeWith(t, appenderPtr{7}), "ptr7"},
		{"AppendBinary via pointer P", encodeWith(t, &appenderPtr{8}), "ptr8"},
		{"nil pointer P", encodeWith(t, (*appenderPtr)(nil)), ""},
		{"MarshalBinary", encodeWith(t, marshaler{"x"}), "m:x"},
		{"JSON struct", encodeWith(t, plain{1, map[string]string{"b": "2", "a": "1"}}), `{"a":1,"m":{"a":"1","b":"2"}}`},
		{"JSON int", encodeWith(t, 12), "12"},
		{"interface []byte", encodeWith[any](t, []byte("ib")), "ib"},
		{"interface appender", encodeWith[any](t, appenderVal{3}), "3"},
		{"interface JSON", encodeWith[any](t, map[string]int{"k": 1}), jsonOf(map[string]int{"k": 1})},
		{"interface nil", encodeWith[any](t, nil), ""},
		{"WithCodec wins", encodeWith(t, "s", WithCodec[string](CodecFunc[string](func(d []byte, p string) ([]byte, error) {
			return append(d, "codec:"+p...), nil
		}))), "codec:s"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestCodecErrors(t *testing.T) {
	db := openDB(t)
	_, err := NewEventLog[int](db, "wrong", WithCodec[string](JSONCodec[string]{}))
	wantErr(t, "codec of another type", err, ErrInvalid)

	failing := errors.New("cannot encode")
	log := must[*EventLog[int]](t)(NewEventLog[int](db, "log", WithCodec[int](CodecFunc[int](func(d []byte, p int) ([]byte, error) {
		if p < 0 {
			return d, failing
		}
		return strconv.AppendInt(d, int64(p), 10), nil
	}))))
	run := NewRunID()
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := log.Append(tx, run, "t", -1)
		wantErr(t, "payload the codec rejects", err, ErrInvalid)
		if _, err := log.Append(tx, run, "t", 5); err != nil {
			return err
		}
		return nil
	})
	mustView(t, db, func(tx *Tx) error {
		if n := log.Len(tx, run); n != 1 {
			t.Errorf("Len %d after a rejected append, want 1", n)
		}
		if res, _ := log.VerifyChain(tx, run); !res.Valid {
			t.Errorf("chain invalid: %+v", res)
		}
		return nil
	})
	// A JSON payload that cannot be encoded is rejected too.
	chans := must[*EventLog[chan int]](t)(NewEventLog[chan int](db, "chans"))
	mustUpdate(t, db, func(tx *Tx) error {
		_, err := chans.Append(tx, run, "t", make(chan int))
		wantErr(t, "unencodable JSON payload", err, ErrInvalid)
		return nil
	})
}
