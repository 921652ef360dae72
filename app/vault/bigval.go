package vault

import "go.etcd.io/bbolt"

// Large values (a document's bytes, a raw message) are each stored in a
// bucket of their own, nested under the record's key, holding one key
// (bigKey) whose value is the sealed record. The reason is bbolt's
// copy-on-write: a leaf page is never split below five keys, so a leaf of
// a bucket of plain large values holds up to four of them, and every new
// key landing in that leaf (keys are HMACs: anywhere) made bbolt read all
// of them through the mmap and write them out again in the commit. An
// import of 200 messages of 340 KB rewrote three times what it stored, and
// the pages it read stayed resident (issue 14's MB-peak). A nested bucket
// is only a 16-byte header in its parent's leaf: a commit that does not
// change the value never touches its pages.
//
// Values under bigThreshold stay plain values (a page holds several), and
// both forms are read everywhere: vaults written before keep their values.

// bigThreshold is the size from which a value goes into its own bucket.
const bigThreshold = 16 << 10

// bigKey is the one key of a large value's own bucket.
var bigKey = []byte{0}

// getBig returns the value stored under key, plain or in its own bucket;
// nil when absent.
func getBig(b *bbolt.Bucket, key []byte) []byte {
	if v := b.Get(key); v != nil {
		return v
	}
	if sb := b.Bucket(key); sb != nil {
		return sb.Get(bigKey)
	}
	return nil
}

// putBig stores val under key: in its own bucket from bigThreshold on,
// else as a plain value; the previous value, in either form, is replaced.
func putBig(b *bbolt.Bucket, key, val []byte) error {
	if err := deleteBig(b, key); err != nil {
		return err
	}
	if len(val) < bigThreshold {
		return b.Put(key, val)
	}
	sb, err := b.CreateBucket(key)
	if err != nil {
		return err
	}
	return sb.Put(bigKey, val)
}

// deleteBig removes the value stored under key, in either form (nothing
// when absent).
func deleteBig(b *bbolt.Bucket, key []byte) error {
	if b.Bucket(key) != nil {
		return b.DeleteBucket(key)
	}
	return b.Delete(key)
}

// forEachBig calls fn for every record of b, with its value in either form
// (a nested bucket that is not a large value's is passed with a nil
// value, for the caller to report).
func forEachBig(b *bbolt.Bucket, fn func(key, val []byte) error) error {
	return b.ForEach(func(key, val []byte) error {
		if val == nil {
			if sb := b.Bucket(key); sb != nil {
				val = sb.Get(bigKey)
			}
		}
		return fn(key, val)
	})
}
