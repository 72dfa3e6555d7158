import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { CustomerView } from '#read-models';
import { newId } from '../ids.js';
import { CommandRunner } from '../write-side/command-runner.js';
import { customerOf } from '../write-side/customer-result.js';
import { CreateCustomerCommand } from './create-customer.command.js';

@CommandHandler(CreateCustomerCommand)
export class CreateCustomerHandler implements ICommandHandler<CreateCustomerCommand, CustomerView> {
  constructor(private readonly runner: CommandRunner) {}

  execute({ actor, input }: CreateCustomerCommand): Promise<CustomerView> {
    const customerId = newId('cus');
    return this.runner.run(
      actor,
      customerId,
      (now) => ({ type: 'CreateCustomer', customerId, businessId: actor.businessId, ...input, now }),
      customerOf,
    );
  }
}
