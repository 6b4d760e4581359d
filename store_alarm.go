package keel

import (
	"context"
	"fmt"
)

// AlarmList returns the active alarms of the cluster, in the shape of
// clientv3's Maintenance.AlarmList. It is linearizable: it reflects every
// alarm raised or cleared before the call.
func (s *Store) AlarmList(ctx context.Context) (*AlarmResponse, error) {
	if err := s.readBarrier(ctx, false); err != nil {
		return nil, err
	}
	return &AlarmResponse{Header: s.clusterHeader(), Alarms: s.fsm.alarmSet().public()}, nil
}

// AlarmDisarm clears alarm m, as clientv3's Maintenance.AlarmDisarm does;
// a nil or zero m clears every active alarm. The response lists the
// alarms that were cleared. It is rarely needed: a member clears its own
// NOSPACE alarm once its database is back under the quota, and raises it
// again at its next check (or write) if it is still over, so disarming
// an alarm whose cause remains does not let writes through for long.
func (s *Store) AlarmDisarm(ctx context.Context, m *AlarmMember) (*AlarmResponse, error) {
	if m != nil && (m.MemberID != 0 || m.Alarm != AlarmNone) {
		resp, err := s.changeAlarm(ctx, false, *m)
		if err != nil {
			return nil, err
		}
		s.fillHeader(resp.Header)
		return resp, nil
	}
	list, err := s.AlarmList(ctx)
	if err != nil {
		return nil, err
	}
	out := &AlarmResponse{Header: list.Header, Alarms: []*AlarmMember{}}
	for _, a := range list.Alarms {
		resp, err := s.changeAlarm(ctx, false, *a)
		if err != nil {
			return nil, err
		}
		out.Header = resp.Header
		out.Alarms = append(out.Alarms, resp.Alarms...)
	}
	s.fillHeader(out.Header)
	return out, nil
}

// raiseAlarm raises alarm type t for member id through raft, from any
// member. Raising an active alarm changes nothing.
func (s *Store) raiseAlarm(ctx context.Context, id uint64, t AlarmType) error {
	_, err := s.changeAlarm(ctx, true, AlarmMember{MemberID: id, Alarm: t})
	return err
}

// clearAlarm clears alarm type t of member id through raft, from any
// member. Clearing an inactive alarm changes nothing.
func (s *Store) clearAlarm(ctx context.Context, id uint64, t AlarmType) error {
	_, err := s.changeAlarm(ctx, false, AlarmMember{MemberID: id, Alarm: t})
	return err
}

// changeAlarm raises or clears m through raft and returns the leader's
// answer: the alarms the change raised or cleared.
func (s *Store) changeAlarm(ctx context.Context, raise bool, m AlarmMember) (*AlarmResponse, error) {
	if m.Alarm < AlarmNone || m.Alarm > AlarmCorrupt {
		return nil, fmt.Errorf("%w: unknown alarm type %d", ErrInvalidOption, m.Alarm)
	}
	if m.Alarm == AlarmNone {
		// Nothing to raise or clear (etcd ignores it too).
		return &AlarmResponse{Header: s.headerPtr(), Alarms: []*AlarmMember{}}, nil
	}
	res, err := s.propose(ctx, encodeAlarmCommand(raise, m))
	if err != nil {
		return nil, err
	}
	if res.err != nil {
		return nil, res.err
	}
	return res.alarm, nil
}
