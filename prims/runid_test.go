package prims

import (
	"encoding/json"
	"errors"
	"regexp"
	"testing"
)

func TestRunID(t *testing.T) {
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[RunID]bool{}
	for range 1000 {
		r := NewRunID()
		if r.IsZero() {
			t.Fatal("NewRunID returned the zero RunID")
		}
		if seen[r] {
			t.Fatalf("NewRunID repeated %v", r)
		}
		seen[r] = true
		s := r.String()
		if !canonical.MatchString(s) {
			t.Fatalf("String() = %q, not a canonical version 4 UUID", s)
		}
		p, err := ParseRunID(s)
		if err != nil || p != r {
			t.Fatalf("ParseRunID(%q) = %v, %v; want %v", s, p, err, r)
		}
	}
	if !(RunID{}).IsZero() {
		t.Error("zero RunID: IsZero false")
	}
}

func TestParseRunID(t *testing.T) {
	r := NewRunID()
	for _, s := range []string{"urn:uuid:" + r.String(), "{" + r.String() + "}"} {
		if p, err := ParseRunID(s); err != nil || p != r {
			t.Errorf("ParseRunID(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "nope", "00000000-0000-0000-0000-000000000000", r.String()[:35], r.String() + "0"} {
		if _, err := ParseRunID(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseRunID(%q): err = %v, want ErrInvalid", s, err)
		}
	}
}

func TestRunIDText(t *testing.T) {
	r := NewRunID()
	b, err := json.Marshal(map[string]RunID{"run": r})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"run":"` + r.String() + `"}`; string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var back map[string]RunID
	if err := json.Unmarshal(b, &back); err != nil || back["run"] != r {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	var z RunID
	if err := z.UnmarshalText([]byte("00000000-0000-0000-0000-000000000000")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("UnmarshalText(zero): %v", err)
	}
}
