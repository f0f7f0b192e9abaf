import { CreateContacts } from "./0001-create-contacts.js";
import { AddEmailKey } from "./0002-add-email-key.js";

/** Every migration, oldest first. Append; never edit one that has shipped. */
export const MIGRATIONS = [CreateContacts, AddEmailKey];
