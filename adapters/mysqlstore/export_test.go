package mysqlstore

// Test hooks: the package's own tests are in package mysqlstore; these
// setters keep the hook fields' purpose in one place.

// setBeforeCommit installs a function every write transaction runs after
// inserting its feed changes and before committing.
func (s *Store) setBeforeCommit(fn func()) { s.beforeCommit = fn }

// setNoFeedLock leaves out the feed head locks (to show what they prevent).
func (s *Store) setNoFeedLock(v bool) { s.noFeedLock = v }
