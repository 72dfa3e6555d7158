import { Body, Controller, HttpCode, Inject, Logger, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError, assertNever } from '#domain';
import {
  CommandRetriesExhaustedError,
  CreateLedgerEntriesBatchCommand,
  LEDGER_CONFIG,
  type Actor,
  type BatchEntryOutcome,
  type BatchLedgerEntry,
  type LedgerConfig,
} from '#ledger';
import { domainErrorResponse } from '../http/api-error.filter.js';
import { RequestValidationError, type ErrorBody } from '../http/api-errors.js';
import { CurrentActor } from '../http/current-actor.decorator.js';
import { walletToWire } from '../http/wire.js';
import { LEDGER_ENTRIES_BATCH_PATH } from './batch-body-limit.js';
import { LedgerEntriesBatchDto, LedgerEntriesBatchResponse, type BatchEntryResult } from './ledger-entries-batch.dto.js';
import { checkEntry, entriesOf, validationMessage } from './ledger-entries-batch.validator.js';

@ApiTags('wallets')
@ApiBearerAuth()
@Controller(LEDGER_ENTRIES_BATCH_PATH.slice(1))
export class LedgerEntriesBatchController {
  private readonly logger = new Logger('LedgerEntriesBatch');

  constructor(
    private readonly commands: CommandBus,
    @Inject(LEDGER_CONFIG) private readonly config: LedgerConfig,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'Credit or debit many wallets in one request (extension)',
    description:
      'Each entry follows the single-entry route\'s rules and succeeds or fails on its own; this is not a transaction. ' +
      'Entries of one customer apply in array order. The answer comes once every applied entry is durable and visible to reads, ' +
      'with one result per entry in request order; `status` is what POST /customers/{id}/wallets/ledger-entries would have answered. ' +
      'A body that is not an object with 1 to BATCH_ENTRIES_MAX entries, or larger than BATCH_BODY_LIMIT_BYTES, is refused as a whole.',
  })
  @ApiBody({ type: LedgerEntriesBatchDto })
  @ApiOkResponse({ type: LedgerEntriesBatchResponse })
  // `unknown`, not the DTO: the global class-validator pipe leaves it alone, and the
  // validator below checks 1,000 entries in one cheap pass.
  async create(@CurrentActor() actor: Actor, @Body() body: unknown): Promise<LedgerEntriesBatchResponse> {
    const shape = entriesOf(body, this.config.batchEntriesMax);
    if (!shape.ok) throw new RequestValidationError(shape.message, { fields: shape.fields });

    const results = new Array<BatchEntryResult>(shape.entries.length);
    const valid: BatchLedgerEntry[] = [];
    const validIndexes: number[] = [];
    shape.entries.forEach((entry, index) => {
      const check = checkEntry(entry);
      switch (check.kind) {
        case 'valid':
          valid.push({ customerId: check.customerId, input: check.input });
          validIndexes.push(index);
          return;
        case 'unknown-customer':
          results[index] = { index, status: 404, error: { code: 'CUSTOMER_NOT_FOUND', message: 'Customer was not found.' } };
          return;
        case 'invalid':
          results[index] = {
            index,
            status: 400,
            error: { code: 'VALIDATION_FAILED', message: validationMessage(check.fields), details: { fields: check.fields } },
          };
          return;
        default:
          return assertNever(check, 'entry check');
      }
    });

    if (valid.length > 0) {
      const outcomes = await this.commands.execute<CreateLedgerEntriesBatchCommand, BatchEntryOutcome[]>(
        new CreateLedgerEntriesBatchCommand(actor, valid),
      );
      outcomes.forEach((outcome, i) => {
        const index = validIndexes[i];
        results[index] = outcome.ok ? { index, status: 200, wallet: walletToWire(outcome.wallet) } : { index, ...this.failure(outcome.error) };
      });
    }
    return { results };
  }

  /** What the single route's error filter would have answered for this entry. */
  private failure(error: unknown): { status: number; error: ErrorBody } {
    if (error instanceof DomainError) {
      const { status, body } = domainErrorResponse(error);
      return { status, error: body };
    }
    if (error instanceof CommandRetriesExhaustedError) {
      return { status: 503, error: { code: 'CONTENTION', message: 'The customer is too busy right now; retry the entry with the same idempotency key.' } };
    }
    this.logger.error('a batch entry failed unexpectedly', error instanceof Error ? error.stack : String(error));
    // The entry may have been stored before the failure: only a keyed resend is safe.
    return { status: 500, error: { code: 'INTERNAL_ERROR', message: 'Something went wrong on our side; resend the entry with the same idempotency key.' } };
  }
}
