package localauth

// HoldHashSlots takes every password hashing slot, as n long bcrypt
// operations would, until release is called.
func (p *Provider) HoldHashSlots() (release func()) {
	n := cap(p.hashSlots)
	for range n {
		p.hashSlots <- struct{}{}
	}
	return func() {
		for range n {
			<-p.hashSlots
		}
	}
}

// Hasher makes and checks the provider's password hashes (bcrypt).
type Hasher = hasher

// BcryptHasher is the Hasher every provider starts with.
var BcryptHasher Hasher = bcryptHasher{}

// SetHasher replaces p's password hasher, so a test can count or hold its
// calls; call it before p is used concurrently.
func (p *Provider) SetHasher(h Hasher) { p.hasher = h }
