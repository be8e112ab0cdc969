// Package policy is the AWS access policy language: it parses identity policies (IAM user,
// group, role and session policies) and resource policies (S3 bucket policies) and decides
// a request against them the way AWS does.
//
// Parse refuses what AWS refuses, with a message that says what is wrong: an unknown
// element, a bad Effect, an action or resource that is not an ARN, a Principal in an
// identity policy (or none in a bucket policy), an unknown condition operator, a document
// over its size limit. The caller turns an *Error into its protocol's error
// (S3 MalformedPolicy, IAM MalformedPolicyDocument).
//
// Decide answers Allow, Deny or NoMatch (the implicit deny) for one request: explicit
// Deny wins over Allow, and what no statement allows is denied. Action and Resource
// patterns take the '*' and '?' wildcards; Resource and condition values take the policy
// variables ${aws:username}, ${aws:userid} and the others the request Context holds.
package policy
