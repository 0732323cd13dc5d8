// Field shapes both providers' schemas share. Identifiers end up in unique indexes, whose
// entries Postgres caps at about 2,700 bytes: an id past that would fail the insert (a 500)
// instead of being refused as bad input. Real ids are a few dozen characters.
import { z } from 'zod';

export const MAX_ID_LENGTH = 256;
/** RFC 5321's limit for an address. */
export const MAX_EMAIL_LENGTH = 320;

const tooLong = (max: number) => `must be at most ${max} characters`;

/** A provider's id of an object (or a Polis tenant or product): indexed. */
export const identifier = z.string().min(1, 'must not be empty').max(MAX_ID_LENGTH, tooLong(MAX_ID_LENGTH));
/** Where an id may be absent, and Polis's tenant and product, which may be empty. */
export const optionalIdentifier = z.string().max(MAX_ID_LENGTH, tooLong(MAX_ID_LENGTH)).nullish();
export const scopeName = z.string().max(MAX_ID_LENGTH, tooLong(MAX_ID_LENGTH));
/** Indexed (lower-cased) for lookups by email. */
export const email = z.string().max(MAX_EMAIL_LENGTH, tooLong(MAX_EMAIL_LENGTH)).nullish();
/** Names and the like: stored, never indexed. */
export const optionalText = z.string().nullish();
