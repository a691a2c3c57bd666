package prims

import (
	"strconv"
	"time"
)

// TraceID names one trace within its run. IDs are assigned by
// TraceStore.Record: 1, 2, 3, ... per run, in recording order, with no gaps
// among committed traces of a run that is never deleted. The zero TraceID
// names no trace; as a Trace's Parent it means "root".
type TraceID uint64

// Kind is the kind of a trace's Body. The zero Kind is invalid.
type Kind uint8

// The trace kinds, one per Body type.
const (
	KindToolCall Kind = iota + 1 // ToolCall
	KindDecision                 // Decision
	KindQuery                    // Query
	KindThought                  // Thought
	KindError                    // ErrorTrace
	KindCustom                   // Custom
)

var kindNames = [...]string{
	KindToolCall: "tool_call",
	KindDecision: "decision",
	KindQuery:    "query",
	KindThought:  "thought",
	KindError:    "error",
	KindCustom:   "custom",
}

// String returns the kind's name ("tool_call", "decision", "query",
// "thought", "error", "custom"), or "Kind(n)" for an invalid kind.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Valid reports whether k is one of the six trace kinds.
func (k Kind) Valid() bool { return k >= KindToolCall && k <= KindCustom }

// Body is the typed content of a trace: one of ToolCall, Decision, Query,
// Thought, ErrorTrace or Custom (or a non-nil pointer to one, which Record
// stores as the value it points to). The interface is sealed: other types
// cannot implement it, so a switch over the six types is exhaustive.
//
// Aliasing rule. A Body is stored as a shallow copy of its struct: the
// maps, slices and values reachable from it (ToolCall.Arguments and Result,
// Decision.Options, Custom.Data) are shared with the store, not copied, as
// KVStore values are. Do not modify them after Record, and treat those of
// traces returned by queries as read-only.
type Body interface {
	// TraceKind returns the body's trace kind. (It is not named Kind
	// because Query and ErrorTrace have a Kind field of their own.)
	TraceKind() Kind
	sealedBody()
}

// ToolCall records one call of a tool by the agent.
type ToolCall struct {
	// Tool names the tool; it must not be empty.
	Tool string
	// Arguments are the call's arguments by parameter name, as the agent
	// passed them (decoded JSON, typically). Shared, not copied: see Body.
	Arguments map[string]any
	// Result is what the tool returned (nil if nothing, or on error).
	Result any
	// Duration is how long the call took.
	Duration time.Duration
}

// Decision records a choice the agent made among options.
type Decision struct {
	Question  string   // what was decided
	Options   []string // the options considered (shared, not copied: see Body)
	Chosen    string   // the option taken
	Reasoning string   // why
}

// Query records a retrieval or search the agent ran.
type Query struct {
	Kind        string // the kind of query, e.g. "vector", "sql", "web"
	Text        string // the query text
	ResultCount int    // how many results it returned
}

// Thought records a step of the agent's reasoning.
type Thought struct {
	Content    string
	Confidence float64 // the agent's confidence, on the scale it uses (typically 0 to 1)
}

// ErrorTrace records an error the agent met (a failed tool call, a refusal,
// a timeout...). It is named ErrorTrace so that it does not read as a Go
// error type: it is data, not an error value.
type ErrorTrace struct {
	Kind        string // the error's class, e.g. "timeout"
	Message     string
	Recoverable bool // whether the agent could carry on
}

// Custom records anything else under an application-chosen name.
type Custom struct {
	// Name names the custom kind; it must not be empty.
	Name string
	// Data is the payload. Shared, not copied: see Body.
	Data any
}

// TraceKind implements Body.
func (ToolCall) TraceKind() Kind { return KindToolCall }

// TraceKind implements Body.
func (Decision) TraceKind() Kind { return KindDecision }

// TraceKind implements Body.
func (Query) TraceKind() Kind { return KindQuery }

// TraceKind implements Body.
func (Thought) TraceKind() Kind { return KindThought }

// TraceKind implements Body.
func (ErrorTrace) TraceKind() Kind { return KindError }

// TraceKind implements Body.
func (Custom) TraceKind() Kind { return KindCustom }

func (ToolCall) sealedBody()   {}
func (Decision) sealedBody()   {}
func (Query) sealedBody()      {}
func (Thought) sealedBody()    {}
func (ErrorTrace) sealedBody() {}
func (Custom) sealedBody()     {}

// Trace is one recorded step of an agent run.
//
// On the way in (TraceStore.Record) ID is ignored (the store assigns it),
// Parent must be 0 (a root) or the ID of a trace of the same run, Time may
// be zero (Record uses time.Now()), Tags may be empty (duplicates and order
// beyond the first occurrence are dropped; an empty tag is invalid), and
// Body is required. On the way out every field is set as stored; Tags is
// the caller's own copy, and the Body follows Body's aliasing rule.
type Trace struct {
	ID     TraceID   // assigned by Record, from 1 per run
	Parent TraceID   // 0 for a root trace
	Time   time.Time // when the step happened; the time index orders by it
	Tags   []string  // free-form labels, each indexed
	Body   Body      // the typed content; its Kind is the trace's kind
}

// Kind returns the kind of t's Body, or 0 if it has none.
func (t Trace) Kind() Kind {
	if t.Body == nil {
		return 0
	}
	return t.Body.TraceKind()
}

// TraceTree is a trace with its descendants: Children are the trace's
// direct children, in recording order, each with its own subtree.
type TraceTree struct {
	Trace
	Children []TraceTree
}

// Size returns the number of traces in the tree (the root included).
func (t TraceTree) Size() int {
	n := 1
	for _, c := range t.Children {
		n += c.Size()
	}
	return n
}
