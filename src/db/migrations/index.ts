import { CreateContacts } from "./0001-create-contacts.js";

/** Every migration, oldest first. Append; never edit one that has shipped. */
export const MIGRATIONS = [CreateContacts];
