// WorkOS's own SDK: it signs what the tests send and verifies what the trigger signs.
export { WorkOS } from '@workos-inc/node';
