import { CreateContacts } from "./0001-create-contacts.js";
import { AddEmailKey } from "./0002-add-email-key.js";
import { ContactApi } from "./0003-contact-api.js";
import { ContactChanges } from "./0004-contact-changes.js";
import { RequestIds } from "./0005-request-ids.js";
import { AssignmentsColumn } from "./0006-assignments-column.js";
import { BlobBytes } from "./0007-blob-bytes.js";
import { ChangeFeedIndex } from "./0008-change-feed-index.js";
import { ContactNameSearch } from "./0009-contact-name-search.js";

/** Every migration, oldest first. Append; never edit one that has shipped. */
export const MIGRATIONS = [
  CreateContacts,
  AddEmailKey,
  ContactApi,
  ContactChanges,
  RequestIds,
  AssignmentsColumn,
  BlobBytes,
  ChangeFeedIndex,
  ContactNameSearch,
];
