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
