/** Momento's CredentialProvider: where the clients connect, from endpointOverrides, from a
 * Momento-shaped credential's embedded endpoint, or from an environment variable. */
import t from 'tap';
import { CredentialProvider } from '../../../src/client/index.js';
import { encodeMomentoCredential } from '../../../src/protocol/index.js';

t.test('credential provider - a scheme in capitals is a scheme, not part of a host name', async (t) => {
  t.equal(CredentialProvider.fromString({ apiKey: 'k', endpointOverrides: { baseEndpoint: 'HTTPS://broker.example' } }).getCacheEndpoint(), 'HTTPS://broker.example');
  t.equal(CredentialProvider.fromString({ apiKey: 'k', endpointOverrides: { baseEndpoint: 'broker.example' } }).getCacheEndpoint(), 'https://broker.example', 'no scheme: https');
  t.equal(CredentialProvider.fromString({ apiKey: 'k', endpointOverrides: { baseEndpoint: 'broker.example:8080', secureConnection: false } }).getCacheEndpoint(), 'http://broker.example:8080', 'secureConnection: false: http');
});

t.test('credential provider - a Momento-shaped credential names its endpoint when that is a URL', async (t) => {
  const withUrl = CredentialProvider.fromString(encodeMomentoCredential({ endpoint: 'https://broker.example', apiKey: 'inner' }));
  t.equal(withUrl.getCacheEndpoint(), 'https://broker.example');
  t.equal(withUrl.getAuthToken(), 'inner', 'the inner credential is the token');
  t.equal(CredentialProvider.fromString(encodeMomentoCredential({ endpoint: 'cache.cell.example:443', apiKey: 'inner' })).getCacheEndpoint(), undefined, 'a gRPC host:port is not our endpoint');
});

t.test('credential provider - from an environment variable, with the endpoint overrides given; none at all is refused', async (t) => {
  process.env['TIDINGS_TEST_CREDENTIAL'] = 'secret';
  t.teardown(() => { delete process.env['TIDINGS_TEST_CREDENTIAL']; });
  const provider = CredentialProvider.fromEnvironmentVariable({ environmentVariableName: 'TIDINGS_TEST_CREDENTIAL', endpointOverrides: { baseEndpoint: 'https://broker.example' } });
  t.equal(provider.getAuthToken(), 'secret');
  t.equal(provider.getCacheEndpoint(), 'https://broker.example');
  t.throws(() => CredentialProvider.fromEnvironmentVariable('TIDINGS_TEST_UNSET'), { code: 'INVALID_ARGUMENT_ERROR' });
  t.throws(() => CredentialProvider.fromString({ endpointOverrides: { baseEndpoint: 'https://broker.example' } }), { code: 'INVALID_ARGUMENT_ERROR' }, 'no credential');
});
