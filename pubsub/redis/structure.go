package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// putStructureScript stores a structure snapshot unless the stored one is
// newer and comes from another owner (two owners on one engine: the newest
// version wins, the older owner does not overwrite it), or is the same
// version from the same owner (nothing to write: a restart of the owner).
// It returns the previous version (0 for none), the previous owner and 1
// when it wrote.
//
// KEYS: the structure hash. ARGV: version, owner, data.
var putStructureScript = goredis.NewScript(`
local cur = redis.call('hmget', KEYS[1], 'v', 'owner')
local v = tonumber(cur[1]) or 0
local owner = cur[2] or ''
local nv = tonumber(ARGV[1])
if cur[1] and ((owner ~= ARGV[2] and v >= nv) or (owner == ARGV[2] and v == nv)) then
  return {v, owner, 0}
end
redis.call('hset', KEYS[1], 'v', ARGV[1], 'owner', ARGV[2], 'data', ARGV[3])
return {v, owner, 1}
`)

// Structure keeps the admin structure's snapshot for hosts that read it
// from the engine (admin/enginestore's Reader and Writer).
type Structure struct{ *conn }

// PutStructure stores data as the structure snapshot of the given version
// by owner, in one atomic step. It does not write when the stored
// snapshot has another owner and a version at least as high (it reports
// that owner), nor when it is the same owner's same version. prevVersion is
// 0 and prevOwner "" when there was none.
func (s *Structure) PutStructure(ctx context.Context, version int64, owner string, data []byte) (prevVersion int64, prevOwner string, written bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := putStructureScript.Run(ctx, s.rdb, []string{s.keys.structure()}, version, owner, data).Slice()
	if err != nil {
		return 0, "", false, s.wrap("put structure", err)
	}
	if len(res) != 3 {
		return 0, "", false, fmt.Errorf("redis put structure: unexpected reply %v", res)
	}
	pv, ok1 := res[0].(int64)
	po, ok2 := res[1].(string)
	w, ok3 := res[2].(int64)
	if !ok1 || !ok2 || !ok3 {
		return 0, "", false, fmt.Errorf("redis put structure: unexpected reply %v", res)
	}
	return pv, po, w == 1, nil
}

// StructureHead returns the version and owner of the stored structure
// snapshot without its data, or 0 and "" when there is none: a cheap
// check for pollers.
func (s *Structure) StructureHead(ctx context.Context) (version int64, owner string, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	vals, err := s.rdb.HMGet(ctx, s.keys.structure(), "v", "owner").Result()
	if err != nil {
		return 0, "", s.wrap("structure head", err)
	}
	return parseHead(vals)
}

// GetStructure returns the stored structure snapshot: its version, owner
// and data, or 0, "" and nil when there is none.
func (s *Structure) GetStructure(ctx context.Context) (version int64, owner string, data []byte, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	vals, err := s.rdb.HMGet(ctx, s.keys.structure(), "v", "owner", "data").Result()
	if err != nil {
		return 0, "", nil, s.wrap("get structure", err)
	}
	version, owner, err = parseHead(vals[:2])
	if err != nil || version == 0 {
		return 0, "", nil, err
	}
	snap, ok := vals[2].(string)
	if !ok {
		return 0, "", nil, errors.New("redis get structure: snapshot without data")
	}
	return version, owner, []byte(snap), nil
}

func parseHead(vals []any) (int64, string, error) {
	if len(vals) != 2 || vals[0] == nil {
		return 0, "", nil
	}
	vs, _ := vals[0].(string)
	v, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("redis structure: bad version %q: %w", vs, err)
	}
	owner, _ := vals[1].(string)
	return v, owner, nil
}
