package chaos_test

import (
	"fmt"
	"math"
	"time"

	"github.com/keeldb/keel/internal/chaos"
)

// Check judges a recorded history; here a read returns a value that was
// overwritten before the read began.
func ExampleCheck() {
	put := func(v string, call, ret int64) chaos.Operation {
		return chaos.Operation{Input: chaos.Input{Kind: chaos.OpPut, Key: "a", Value: v}, Call: call, Return: ret}
	}
	stale := []chaos.Operation{
		put("c0-1", 0, 10),
		put("c0-2", 20, 30),
		{ClientID: 1, Input: chaos.Input{Kind: chaos.OpGet, Key: "a"}, Output: chaos.Output{Found: true, Value: "c0-1"}, Call: 40, Return: 50},
	}
	ok, result, _, _ := chaos.Check(stale, time.Second)
	fmt.Println(ok, result)

	// An unknown write may take effect at any time after its call.
	unknown := []chaos.Operation{
		{Input: chaos.Input{Kind: chaos.OpPut, Key: "a", Value: "c0-1"}, Output: chaos.Output{Unknown: true}, Call: 0, Return: math.MaxInt64},
		{ClientID: 1, Input: chaos.Input{Kind: chaos.OpGet, Key: "a"}, Output: chaos.Output{Found: true, Value: "c0-1"}, Call: 40, Return: 50},
	}
	ok, result, _, _ = chaos.Check(unknown, time.Second)
	fmt.Println(ok, result)
	// Output:
	// false Illegal
	// true Ok
}

// GenerateSchedule draws a reproducible schedule from a seed.
func ExampleGenerateSchedule() {
	s, err := chaos.GenerateSchedule(42, chaos.ScheduleConfig{
		Members: 3, Kinds: []chaos.FaultKind{chaos.KillAll}, MaxFaults: 2,
		MinGap: time.Second, MaxGap: time.Second, MinFault: 2 * time.Second, MaxFault: 2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	for _, f := range s.Faults {
		fmt.Println(f.Kind, f.At, f.Duration)
	}
	// Output:
	// kill-all 1s 2s
	// kill-all 4s 2s
}

// FencedResource rejects writes from a holder whose token was superseded.
func ExampleFencedResource() {
	var r chaos.FencedResource
	fmt.Println(r.Enter("a", 5))
	fmt.Println(r.Enter("b", 9)) // a was paused and lost its lock
	fmt.Println(r.Write(9))
	fmt.Println(r.Write(5))
	fmt.Printf("%+v\n", r.Stats())
	// Output:
	// <nil>
	// <nil>
	// <nil>
	// chaos: stale fencing token: token 5, highest seen 9
	// {Accepted:1 RejectedStale:1 Entries:2 Overlaps:1 Violations:0}
}
