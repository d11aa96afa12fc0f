using GrpcBank.Application.ReadSide;
using DomainStatus = GrpcBank.Domain.Accounts.AccountStatus;
using HistoryStatus = GrpcBank.Contracts.History.V1.AccountStatus;
using QueryStatus = GrpcBank.Contracts.Query.V1.AccountStatus;

namespace GrpcBank.Server.Accounts;

/// <summary>
/// The one home of an account status on the wire. The history and query contracts each declare the enum
/// (ACCOUNT_STATUS_ACTIVE = 1, FROZEN = 2, CLOSED = 3), so both are reached through the write side's status.
/// </summary>
public static class AccountStatusOnTheWire
{
    public static HistoryStatus ToHistory(DomainStatus status) => (HistoryStatus)Number(status);

    public static QueryStatus ToQuery(AccountViewStatus status) => (QueryStatus)Number(ToDomain(status));

    private static int Number(DomainStatus status) => status switch
    {
        DomainStatus.Active => 1,
        DomainStatus.Frozen => 2,
        DomainStatus.Closed => 3,
        DomainStatus.Unopened => 0,
        _ => throw new System.Diagnostics.UnreachableException($"account status {status} has no wire value"),
    };

    private static DomainStatus ToDomain(AccountViewStatus status) => status switch
    {
        AccountViewStatus.Active => DomainStatus.Active,
        AccountViewStatus.Frozen => DomainStatus.Frozen,
        AccountViewStatus.Closed => DomainStatus.Closed,
        _ => throw new System.Diagnostics.UnreachableException($"account view status {status} has no wire value"),
    };
}
