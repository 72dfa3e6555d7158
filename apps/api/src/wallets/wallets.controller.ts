import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { LedgerEntryView, WalletView } from '#read-models';
import {
  CreateLedgerEntryCommand,
  ListLedgerEntriesQuery,
  ListWalletsQuery,
  type Actor,
  type WalletList,
} from '#ledger';
import { CurrentActor } from '../http/current-actor.decorator.js';
import { CustomerIdPipe } from '../http/customer-id.pipe.js';
import { LIMITS } from '../http/limits.js';
import { entryToWire, walletToWire } from '../http/wire.js';
import {
  CreateLedgerEntryDto,
  CustomerWalletResponse,
  LedgerEntryListResponse,
  ListLedgerEntriesQueryDto,
  WalletListResponse,
} from './wallet.dto.js';

@ApiTags('wallets')
@ApiBearerAuth()
@Controller('customers/:customer_id/wallets')
export class WalletsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List a customer\'s wallets with the total in USD' })
  @ApiOkResponse({ type: WalletListResponse })
  async list(@CurrentActor() actor: Actor, @Param('customer_id', CustomerIdPipe) customerId: string): Promise<WalletListResponse> {
    const result = await this.queries.execute<ListWalletsQuery, WalletList>(new ListWalletsQuery(actor.businessId, customerId));
    return { items: result.wallets.map(walletToWire), total_balance_usd: result.totalBalanceUsdMinor };
  }

  @Post('ledger-entries')
  @HttpCode(200)
  @ApiOperation({ summary: 'Credit or debit a wallet; returns the wallet right after the entry' })
  @ApiOkResponse({ type: CustomerWalletResponse })
  async createEntry(
    @CurrentActor() actor: Actor,
    @Param('customer_id', CustomerIdPipe) customerId: string,
    @Body() body: CreateLedgerEntryDto,
  ): Promise<CustomerWalletResponse> {
    const input = {
      direction: body.entry_type,
      currency: body.currency,
      amountMinor: body.amount,
      reason: body.reason ?? null,
      idempotencyKey: body.idempotency_key ?? null,
    };
    const wallet = await this.commands.execute<CreateLedgerEntryCommand, WalletView>(
      new CreateLedgerEntryCommand(actor, customerId, input),
    );
    return walletToWire(wallet);
  }

  @Get('ledger-entries')
  @ApiOperation({ summary: 'List ledger entries, newest first' })
  @ApiOkResponse({ type: LedgerEntryListResponse })
  async listEntries(
    @CurrentActor() actor: Actor,
    @Param('customer_id', CustomerIdPipe) customerId: string,
    @Query() query: ListLedgerEntriesQueryDto,
  ): Promise<LedgerEntryListResponse> {
    const entries = await this.queries.execute<ListLedgerEntriesQuery, LedgerEntryView[]>(
      new ListLedgerEntriesQuery(
        actor.businessId,
        customerId,
        query.page_number ?? 0,
        query.page_size ?? LIMITS.pageSizeDefault,
        query.currency,
      ),
    );
    return { items: entries.map(entryToWire) };
  }
}
