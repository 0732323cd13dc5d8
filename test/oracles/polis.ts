// Ory Polis itself: the npm package @boxyhq/saml-jackson is Polis's code, run in-process.
export { controllers } from '@boxyhq/saml-jackson';
export type { Directory, DirectoryType, Group, SAMLJackson, User } from '@boxyhq/saml-jackson';
// Polis's SAML connections need an IdP certificate; node-forge makes one at run time.
export { default as forge } from 'node-forge';
