package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/cypaykit/kit/model"
	"github.com/cypaykit/kit/sign"
)

// VerifyNotification is the one check of a gateway notification's form
// values, shared by handler.Notify and middleware.VerifyNotification so
// that both refuse exactly the same messages:
//
//  1. the decided fields are held to their strict shape
//     (model.CheckNotification), before any key is looked up, since a
//     re-cut message keeps its sign (ErrNotificationShape);
//  2. the candidate keys are those that may sign for the named mch_id
//     (Candidates): the merchant's, then the agent key. A blank or padded
//     key slot is never a candidate, an unknown merchant has no merchant
//     keys, and a lookup that fails — even one that returned keys beside
//     its error — verifies against nothing (ErrKeyLookup);
//  3. the sign must verify under one of them with the configured
//     algorithm (sign.ErrBadSign, sign.ErrNoKey, sign.ErrMissingSign or
//     sign.ErrMalformed otherwise).
//
// It returns the key that verified (to compare, never to log) and
// whether it is one of the merchant's keys (v2) rather than the agent key
// (v1); a caller that knows the order requires the kind of key the
// order's version uses. mch_id is unverified when the keys are looked up,
// so MerchantKeys must answer only for merchants the host knows.
func (k Keyring) VerifyNotification(ctx context.Context, values url.Values, alg sign.Algorithm) (key string, merchant bool, err error) {
	if err := model.CheckNotification(values); err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrNotificationShape, err)
	}
	var mchID string
	if vs := values["mch_id"]; len(vs) > 0 {
		mchID = vs[0]
	}
	keys, merchants, err := k.Candidates(ctx, mchID)
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", ErrKeyLookup, err)
	}
	idx, err := sign.VerifyIndex(values, alg, keys...)
	if err != nil {
		return "", false, err
	}
	return keys[idx], idx < merchants, nil
}
