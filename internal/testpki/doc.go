// Package testpki issues throwaway certificates for tests: a certificate
// authority and, from it, mutual-TLS configurations for members on
// 127.0.0.1 whose certificate names the member (its common name).
//
// Certificates are valid from an hour before the CA is made until a day
// after, by time.Now: inside a testing/synctest bubble, make the CA in
// the bubble. Keys are P-256 and never leave memory. It is for tests
// only: nothing here is fit to secure a deployment.
package testpki
