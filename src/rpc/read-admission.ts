import { MAX_CONTACT_BYTES } from "../contacts/encoded-size.js";
import type { ChangesPage, RawChangesRequest } from "../contacts/list-contact-changes.js";
import {
  type ContactPage,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type RawListRequest,
} from "../contacts/list-contacts.js";
import type { ReadBudget } from "../contacts/read-budget.js";
import type { UseCase } from "../contacts/use-case.js";

interface PagedUseCases {
  readonly listContacts: UseCase<RawListRequest, ContactPage>;
  readonly listContactChanges: UseCase<RawChangesRequest, ChangesPage>;
}

/**
 * The most a page of `pageSize` items may hold while it is read: the answer bound, or less for pages too short to
 * reach it (each item at most MAX_CONTACT_BYTES, which also bounds a change, see encoded-size.ts).
 */
export function pageReservation(pageSize: number, responseMaxBytes: number): number {
  const items = pageSize <= 0 ? DEFAULT_PAGE_SIZE : Math.min(pageSize, MAX_PAGE_SIZE);
  return Math.min(responseMaxBytes, items * MAX_CONTACT_BYTES);
}

/**
 * Admits pages by the bytes they may hold (READS_MAX_BYTES over all calls) before they take a database slot: a
 * page waiting for memory holds no slot, so one firm's large pages cannot hold every slot while they wait, and
 * the memory of all pages in flight stays bounded. The wait ends with the call's deadline or cancellation.
 */
export function admitPages<T extends PagedUseCases>(
  useCases: T,
  budget: ReadBudget,
  responseMaxBytes: number,
): T {
  const admitted =
    <R extends { readonly pageSize: number }, P>(useCase: UseCase<R, P>): UseCase<R, P> =>
    async (request, signal, actor) => {
      const release = await budget.acquire(pageReservation(request.pageSize, responseMaxBytes), signal);
      try {
        return await useCase(request, signal, actor);
      } finally {
        release();
      }
    };
  return {
    ...useCases,
    listContacts: admitted(useCases.listContacts),
    listContactChanges: admitted(useCases.listContactChanges),
  };
}
