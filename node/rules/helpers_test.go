package rules

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/jiujin/jiujin/api/gen/jiujin/v1"
	"github.com/jiujin/jiujin/delegation"
	"github.com/jiujin/jiujin/deploy/seed"
)

// The few helpers of node's tests that the rules' own tests need.

const county = "330324"

var idWang = MakeIDNumber("33032419580312122")

// at is a time in China on a date of the seed calendar.
func at(date string, hour int) time.Time {
	d, err := delegation.ParseDate(date)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

func seedCalendar(t testing.TB) *delegation.Calendar {
	cal, err := delegation.LoadCalendar(bytes.NewReader(seed.Calendar))
	require.NoError(t, err)
	return cal
}

func acceptedAt(unit, processing string) *pb.AppAccepted {
	id := unit + "-20261123-000001"
	return &pb.AppAccepted{Application: &pb.Application{
		Id: id, MatterCode: "MZ-005", MatterName: "老年人优待证办理", Applicant: &pb.Applicant{Name: "王秀英", IdNumber: idWang},
		AcceptingUnit: unit, ProcessingUnit: processing, Holder: unit, State: StateAccepted,
		MaterialsReceived: []string{"居民身份证"}, StatutoryDays: 10,
	}}
}
