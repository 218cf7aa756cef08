// Package operations implements dot's day-2 verbs (scale, image, env,
// resources, restart, rollback, delete, freeze): one action per verb, each
// turning a request into a ChangeSet that the gitops package delivers through
// Git or server-side apply. Not implemented yet (issue 7).
package operations
