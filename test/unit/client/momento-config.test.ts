/** Momento's CredentialProvider: where the clients connect, from endpointOverrides, from a
 * Momento-shaped credential's embedded endpoint, or from an environment variable. */
import t from 'tap';
import { CredentialProvider } from '../../../src/client/index.js';

t.test('credential provider - a scheme in capitals is a scheme, not part of a host name', async (t) => {
  t.equal(CredentialProvider.fromString({ apiKey: 'k', endpointOverrides: { baseEndpoint: 'HTTPS://broker.example' } }).getCacheEndpoint(), 'HTTPS://broker.example');
  t.equal(CredentialProvider.fromString({ apiKey: 'k', endpointOverrides: { baseEndpoint: 'broker.example' } }).getCacheEndpoint(), 'https://broker.example', 'no scheme: https');
});
