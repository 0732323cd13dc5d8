// `npm run trigger -- ... --set field=value`: what a --set does to each provider's sample, and
// the mistakes it explains. (first-run.test.ts runs the CLI itself.)
import { describe, expect, it } from 'vitest';
import { applySets, parseSet, SampleEditError } from '../../src/samples/edit.js';
import { polisSample, stytchSample, workosSample } from '../../src/samples/events.js';

describe('trigger --set', () => {
  it('reads JSON values as JSON and anything else as text, at a dotted path', () => {
    expect(parseSet('name=Ada King')).toEqual({ path: ['name'], value: 'Ada King' });
    expect(parseSet('active=false')).toEqual({ path: ['active'], value: false });
    expect(parseSet('roles=["admin"]')).toEqual({ path: ['roles'], value: ['admin'] });
    expect(parseSet('a.b=1=2')).toEqual({ path: ['a', 'b'], value: '1=2' });
    expect(parseSet('name=')).toEqual({ path: ['name'], value: '' });
  });

  it.each(['name', '=x', 'a..b=1', '.a=1'])('refuses %s with what it takes', (text) => {
    expect(() => parseSet(text)).toThrow(SampleEditError);
    expect(() => parseSet(text)).toThrow(/--set takes <field>=<value>/);
  });

  it("sets fields of each provider's object, nested ones too", () => {
    const stytch = stytchSample('member.updated')!;
    applySets('stytch', 'member.updated', stytch, ['email_address=ada.king@acme.example', 'untrusted_metadata.team=core']);
    expect(stytch.member).toMatchObject({ email_address: 'ada.king@acme.example', untrusted_metadata: { team: 'core' } });
    const polis = polisSample('user.updated')!;
    applySets('polis', 'user.updated', polis, ['active=false']);
    expect(polis.data).toMatchObject({ active: false });
    const workos = workosSample('dsync.user.updated')!;
    applySets('workos', 'dsync.user.updated', workos, ['state=inactive']);
    expect(workos.data).toMatchObject({ state: 'inactive' });
  });

  it('refuses a field the object does not have, naming the nearest, and --add sends it', () => {
    const typo = () => applySets('stytch', 'member.updated', stytchSample('member.updated')!, ['nme=x']);
    expect(typo).toThrow(SampleEditError);
    expect(typo).toThrow(/the stytch member\.updated sample has no field nme \(did you mean name\?\)/);
    expect(typo).toThrow(/Its fields: .*email_address.*To send a field it does not have, use --add nme=x/);
    // Nothing like any field: no guess, still the list.
    expect(() => applySets('polis', 'user.updated', polisSample('user.updated')!, ['department=R&D'])).toThrow(/has no field department\. Its fields:/);

    const added = stytchSample('member.updated')!;
    applySets('stytch', 'member.updated', added, [], ['nickname=Ada']);
    expect(added.member).toMatchObject({ nickname: 'Ada' });
    expect(() => parseSet('=x', '--add')).toThrow(/--add takes <field>=<value>/);
  });

  it('says when an event carries no object to edit', () => {
    expect(() => applySets('stytch', 'member.deleted', stytchSample('member.deleted')!, ['name=x'])).toThrow(
      /stytch member\.deleted carries no object to --set fields of/,
    );
  });
});
