package keel

import "strconv"

// AlarmType is the kind of an alarm, with the values of etcd's
// etcdserverpb.AlarmType.
type AlarmType int32

const (
	// AlarmNone is no alarm. AlarmDisarm with a zero AlarmMember disarms
	// every alarm.
	AlarmNone AlarmType = 0
	// AlarmNoSpace is raised by a member whose database's in-use size went
	// over its quota (Config.QuotaBytes). While any member has it, writes
	// that add data fail with ErrNoSpace on the whole cluster. The member
	// clears it by itself once its in-use size is back under the quota
	// (see doc.go, "Space quota").
	AlarmNoSpace AlarmType = 1
	// AlarmCorrupt marks a member whose data was found to diverge from the
	// cluster's. It is reported by Status and makes the member's Health
	// fail with ErrCorrupt.
	AlarmCorrupt AlarmType = 2
)

// String returns etcd's name of the alarm type: "NONE", "NOSPACE" or
// "CORRUPT".
func (t AlarmType) String() string {
	switch t {
	case AlarmNone:
		return "NONE"
	case AlarmNoSpace:
		return "NOSPACE"
	case AlarmCorrupt:
		return "CORRUPT"
	}
	return "AlarmType(" + strconv.Itoa(int(t)) + ")"
}

// AlarmMember is an alarm raised for one member, in the shape of
// clientv3's AlarmMember.
type AlarmMember struct {
	// MemberID is the ID (Member.ID) of the member the alarm is for.
	MemberID uint64
	// Alarm is the alarm's type.
	Alarm AlarmType
}

// String returns the alarm as Status lists it in Errors, the way etcd
// prints an alarm: "memberID:<id> alarm:<type>".
func (m AlarmMember) String() string {
	return "memberID:" + strconv.FormatUint(m.MemberID, 10) + " alarm:" + m.Alarm.String()
}

// AlarmResponse is the result of AlarmList and AlarmDisarm, in the shape
// of clientv3's AlarmResponse.
type AlarmResponse struct {
	Header *ResponseHeader
	// Alarms are the active alarms (AlarmList) or the alarms that were
	// disarmed (AlarmDisarm).
	Alarms []*AlarmMember
}
