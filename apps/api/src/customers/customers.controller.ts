import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { CustomerView } from '#read-models';
import {
  CreateCustomerCommand,
  GetCustomerQuery,
  ListCustomersQuery,
  UpdateCustomerCommand,
  type Actor,
} from '#ledger';
import { CurrentActor } from '../http/current-actor.decorator.js';
import { CustomerIdPipe } from '../http/customer-id.pipe.js';
import { LIMITS } from '../http/limits.js';
import { customerToWire } from '../http/wire.js';
import {
  CreateCustomerDto,
  CustomerListResponse,
  CustomerResponse,
  ListCustomersQueryDto,
  UpdateCustomerDto,
  refuseNullRequired,
} from './customer.dto.js';

@ApiTags('customers')
@ApiBearerAuth()
@Controller('customers')
export class CustomersController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Create a customer; opens a zero-balance wallet in every supported currency' })
  @ApiOkResponse({ type: CustomerResponse })
  async create(@CurrentActor() actor: Actor, @Body() body: CreateCustomerDto): Promise<CustomerResponse> {
    const input = { email: body.email, name: body.name, phoneNumber: body.phone_number ?? null, metadata: body.metadata ?? {} };
    const customer = await this.commands.execute<CreateCustomerCommand, CustomerView>(new CreateCustomerCommand(actor, input));
    return customerToWire(customer);
  }

  @Get()
  @ApiOperation({ summary: 'List customers, newest first' })
  @ApiOkResponse({ type: CustomerListResponse })
  async list(@CurrentActor() actor: Actor, @Query() query: ListCustomersQueryDto): Promise<CustomerListResponse> {
    const pageNumber = query.page_number ?? 0;
    const pageSize = query.page_size ?? LIMITS.pageSizeDefault;
    const customers = await this.queries.execute<ListCustomersQuery, CustomerView[]>(
      new ListCustomersQuery(actor.businessId, pageNumber, pageSize, query.email),
    );
    return { items: customers.map(customerToWire) };
  }

  @Get(':customer_id')
  @ApiOperation({ summary: 'Get a customer' })
  @ApiOkResponse({ type: CustomerResponse })
  async get(@CurrentActor() actor: Actor, @Param('customer_id', CustomerIdPipe) customerId: string): Promise<CustomerResponse> {
    const customer = await this.queries.execute<GetCustomerQuery, CustomerView>(new GetCustomerQuery(actor.businessId, customerId));
    return customerToWire(customer);
  }

  @Patch(':customer_id')
  @ApiOperation({ summary: 'Update a customer\'s email, name, phone number or metadata' })
  @ApiOkResponse({ type: CustomerResponse })
  async update(
    @CurrentActor() actor: Actor,
    @Param('customer_id', CustomerIdPipe) customerId: string,
    @Body() body: UpdateCustomerDto,
  ): Promise<CustomerResponse> {
    refuseNullRequired(body);
    const patch = {
      ...(body.email != null && { email: body.email }),
      ...(body.name != null && { name: body.name }),
      ...(body.phone_number !== undefined && { phoneNumber: body.phone_number }),
      ...(body.metadata !== undefined && { metadata: body.metadata ?? {} }),
    };
    const customer = await this.commands.execute<UpdateCustomerCommand, CustomerView>(
      new UpdateCustomerCommand(actor, customerId, patch),
    );
    return customerToWire(customer);
  }
}
