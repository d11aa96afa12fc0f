// One throwaway broker for the whole run, shared by the classes (each test publishes to an exchange of its own).
// The specs that stop or restart a broker start nodes of their own (RabbitMqNode).
[assembly: AssemblyFixture(typeof(RabbitMqBroker))]
