import { MAX_BATCH_ITEMS } from "../contacts/batch-types.js";
import { MAX_LENGTH } from "../contacts/fields.js";
import { REQUEST_ID_MAX_LENGTH } from "../contacts/request-ids.js";

// UTF-8 needs at most 4 bytes per code point; a field costs at most its JSON name, quotes, colon and comma
// (JSON) or a tag and a length (protobuf, smaller).
const BYTES_PER_CODE_POINT = 4;
const FIELD_OVERHEAD = 8;
const ITEM_OVERHEAD = 8;

/**
 * The largest BatchUpsertContacts request the server reads: MAX_BATCH_ITEMS items with every field at its
 * maximum length in 4-byte characters, in protobuf or JSON (strings as UTF-8, not \u escapes), plus 64 KiB for
 * the envelope. About 46 MiB: derived from the field table, so a batch any single call would accept always fits.
 */
export const BATCH_READ_MAX_BYTES =
  MAX_BATCH_ITEMS *
    (ITEM_OVERHEAD +
      Object.entries({ ...MAX_LENGTH, requestId: REQUEST_ID_MAX_LENGTH }).reduce(
        (n, [field, max]) => n + field.length + FIELD_OVERHEAD + max * BYTES_PER_CODE_POINT,
        0,
      ) +
      // An item's own validateOnly and requestId are read (and refused) too.
      "validateOnly".length +
      FIELD_OVERHEAD +
      "false".length) +
  64 * 1024;
