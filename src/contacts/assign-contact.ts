import { ANONYMOUS } from "./actor.js";
import {
  decideAssignment,
  MAX_ASSIGNMENTS_PER_KIND,
  type RawAssignmentRequest,
  validateAssignment,
} from "./assignments.js";
import { type Contact, stampTimes } from "./contact.js";
import type { Transact } from "./contact-store.js";
import { LimitExceededError, NotFoundError, ValidationError } from "./errors.js";
import { assignmentEntry } from "./history.js";

/**
 * The AssignContact and UnassignContact use cases: in one transaction, read the contact (locked, so concurrent
 * assignments to it queue and the limit holds), decide, and write the ids that change with a new update time.
 * Assigning what is there or removing what is absent writes nothing and keeps the update time.
 */
export function changeAssignments(deps: { readonly transact: Transact }, operation: "assign" | "unassign") {
  return async (raw: RawAssignmentRequest, signal?: AbortSignal, actor = ANONYMOUS): Promise<Contact> => {
    const validation = validateAssignment(raw);
    if (validation.kind === "invalid") throw new ValidationError(validation.violations);
    const input = validation.input;
    const { value, tick } = await deps.transact(async (store) => {
      const stored = await store.findById(input.firmId, input.contactId, true);
      if (stored === null) throw new NotFoundError();
      const decision = decideAssignment(stored, input, operation);
      switch (decision.kind) {
        case "unchanged":
          return stored;
        case "over_limit":
          throw new LimitExceededError(
            `${decision.field}: the contact would hold ${decision.count} ids; at most ${MAX_ASSIGNMENTS_PER_KIND} are allowed`,
            decision.field,
          );
        case "change":
          await store.changeAssignments(decision.contact, decision.change);
          await store.recordChanges(input.firmId, actor, [assignmentEntry(stored.id, decision.change)]);
          return decision.contact;
      }
    }, signal);
    return tick === null ? value : stampTimes(value, tick, false);
  };
}
