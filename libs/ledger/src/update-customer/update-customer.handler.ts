import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { CustomerView } from '#read-models';
import { CommandRunner } from '../write-side/command-runner.js';
import { customerOf } from '../write-side/customer-result.js';
import { UpdateCustomerCommand } from './update-customer.command.js';

@CommandHandler(UpdateCustomerCommand)
export class UpdateCustomerHandler implements ICommandHandler<UpdateCustomerCommand, CustomerView> {
  constructor(private readonly runner: CommandRunner) {}

  execute({ actor, customerId, patch }: UpdateCustomerCommand): Promise<CustomerView> {
    return this.runner.run(
      actor,
      customerId,
      (now) => ({ type: 'UpdateCustomer', customerId, businessId: actor.businessId, ...patch, now }),
      customerOf,
    );
  }
}
