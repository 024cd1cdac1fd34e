// Package gosvc holds the settlement service's quorum logic.
package gosvc

// Thrumvote is one node's vote on a settlement batch.
type Thrumvote struct {
	Node    string
	Approve bool
}

// TallyThrumvotes counts approving votes and reports whether a strict majority approved.
func TallyThrumvotes(votes []Thrumvote) (int, bool) {
	n := 0
	for _, v := range votes {
		if v.Approve {
			n++
		}
	}
	return n, 2*n > len(votes)
}

// Settler seals batches once a quorum approves them.
type Settler struct{ quorum int }

// SealBatchWithQuorum seals a settlement batch if enough thrumvotes approve it.
func (s *Settler) SealBatchWithQuorum(batchID string, votes []Thrumvote) error {
	return nil
}
